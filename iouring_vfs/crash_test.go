package iouringvfs

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

const crashChildEnv = "LIBSQL_CRASH_CHILD_DB"

// crashIterations is 20 in the normal test run and 500 under LIBSQL_SOAK=1.
func crashIterations() int {
	if os.Getenv("LIBSQL_SOAK") != "" {
		return 500
	}
	return 20
}

// TestCrashChildProcess is the child of TestKill9DuringCommits: several
// writers commit rows with sync=full and print "ack W I" once COMMIT
// returned, until the parent kills the process.
func TestCrashChildProcess(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("child process of TestKill9DuringCommits")
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		c, err := capi.Open("file:"+path+"?libsql_sync=full", capi.OPEN_READWRITE|capi.OPEN_CREATE|capi.OPEN_URI, Name)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		c.SetBusyTimeout(10 * time.Second)
		f := FileOf(c.FileHandle("main"))
		f.SetupJournal(c.Exec)
		f.SetOwner(c)
		f.SetWriteIntent(true)
		if err := c.Exec("CREATE TABLE IF NOT EXISTS t(w INTEGER, i INTEGER, pad BLOB, PRIMARY KEY(w, i))"); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start, err := maxRow(c, w)
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			for i := start + 1; ; i++ {
				// Some transactions are large enough to spill SQLite's cache
				// and to span many log frames.
				n := 1 + rand.IntN(3)
				pad := 100 + rand.IntN(3000)
				if rand.IntN(10) == 0 {
					pad = 200_000
				}
				sql := fmt.Sprintf("BEGIN IMMEDIATE; INSERT INTO t VALUES (%d, %d, randomblob(%d)); UPDATE t SET pad = randomblob(%d) WHERE w = %d AND i %% 7 = %d; COMMIT", w, i, pad, 10*n, w, i%7)
				if err := c.Exec(sql); err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				out.Lock()
				fmt.Printf("ack %d %d\n", w, i)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

func maxRow(c *capi.Conn, w int) (int, error) {
	s, _, err := c.Prepare(fmt.Sprintf("SELECT coalesce(max(i), 0) FROM t WHERE w = %d", w), 0)
	if err != nil {
		return 0, err
	}
	defer s.Finalize()
	if _, err := s.Step(); err != nil {
		return 0, err
	}
	return int(s.ColumnInt64(0)), nil
}

// TestKill9DuringCommits kills a child process that commits with sync=full
// at random moments, then checks that every acknowledged commit is in the
// database, in our engine and in stock SQLite, and that both find it
// intact.
func TestKill9DuringCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.db")
	acked := map[[2]int]bool{}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	for iter := range crashIterations() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		killAfter := 5 + rng.IntN(60)
		n := 0
		for line := range lines {
			var w, i int
			if _, err := fmt.Sscanf(line, "ack %d %d", &w, &i); err != nil {
				cmd.Process.Kill()
				t.Fatalf("child: %s", line)
			}
			acked[[2]int{w, i}] = true
			if n++; n == killAfter {
				cmd.Process.Kill()
			}
		}
		werr := cmd.Wait()
		t.Logf("iteration %d: %d acks, child: %v", iter, n, werr)

		// Stock SQLite, on a copy (it would checkpoint and delete the log).
		cp := filepath.Join(dir, "copy"+strconv.Itoa(iter)+".db")
		copyFile(t, path, cp)
		if _, err := os.Stat(path + "-wal"); err == nil {
			copyFile(t, path+"-wal", cp+"-wal")
		}
		sdb := stock(t, cp)
		if s := stockText(t, sdb, "PRAGMA integrity_check"); s != "ok" {
			t.Fatalf("iteration %d: stock SQLite integrity_check: %s", iter, s)
		}
		stockRows := stockInt(t, sdb, "SELECT count(*) FROM t")
		sdb.Close()
		os.Remove(cp)
		os.Remove(cp + "-wal")

		c := openConn(t, path, "")
		if s := c.text("PRAGMA integrity_check"); s != "ok" {
			t.Fatalf("iteration %d: integrity_check: %s", iter, s)
		}
		rows := c.int("SELECT count(*) FROM t")
		if rows != stockRows {
			t.Fatalf("iteration %d: our engine sees %d rows, stock SQLite %d", iter, rows, stockRows)
		}
		for k := range acked {
			if c.int(fmt.Sprintf("SELECT count(*) FROM t WHERE w = %d AND i = %d", k[0], k[1])) != 1 {
				t.Fatalf("iteration %d: acknowledged commit %v is lost", iter, k)
			}
		}
		if int(rows) < len(acked) || int(rows) > len(acked)+4 {
			t.Fatalf("iteration %d: %d rows for %d acknowledged commits (4 writers may have one unacknowledged each)", iter, rows, len(acked))
		}
		// The unacknowledged commits that made it count as committed.
		s, _, err := c.Prepare("SELECT w, i FROM t", 0)
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, err := s.Step()
			if err != nil {
				t.Fatal(err)
			}
			if !row {
				break
			}
			acked[[2]int{int(s.ColumnInt64(0)), int(s.ColumnInt64(1))}] = true
		}
		s.Finalize()
		c.Close()
	}
	t.Logf("%d commits survived %d kills", len(acked), crashIterations())
}
