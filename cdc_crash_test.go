package libsql

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

const cdcChildEnv = "LIBSQL_CDC_CHILD_DB"

// TestCDCChildProcess is the child of TestDurableCDCSurvivesKill9: it
// inserts rows with cdc=on, printing "ack N" after each commit, while a
// stream in the same process prints "seen LSN N" for each change it gets.
func TestCDCChildProcess(t *testing.T) {
	path := os.Getenv(cdcChildEnv)
	if path == "" {
		t.Skip("child process of TestDurableCDCSurvivesKill9")
	}
	db, err := Open("file:" + path + "?cdc=on&sync=full")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS t(n INTEGER PRIMARY KEY)"); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	since, _ := strconv.ParseUint(os.Getenv(cdcChildEnv+"_SINCE"), 10, 64)
	s, err := Changes(context.Background(), db, ChangeOptions{Since: changefeed.LSN(since)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := make(chan string, 1024)
	go func() {
		for ch, err := range s.All(context.Background()) {
			if err != nil {
				out <- "error " + err.Error()
				return
			}
			out <- fmt.Sprintf("seen %d %d", ch.LSN, ch.New[0])
		}
	}()
	go func() {
		for line := range out {
			fmt.Println(line)
		}
	}()
	var start int64
	db.QueryRow("SELECT coalesce(max(n), 0) FROM t").Scan(&start)
	for n := start + 1; ; n++ {
		if _, err := db.Exec("INSERT INTO t VALUES (?)", n); err != nil {
			out <- "error " + err.Error()
			select {}
		}
		out <- fmt.Sprintf("ack %d", n)
	}
}

// TestDurableCDCSurvivesKill9 kills a child that writes with cdc=on while it
// consumes its own change stream, then resumes from the last LSN the child
// saw: what the child saw plus what the resumed stream yields is exactly
// the committed rows, each once.
func TestDurableCDCSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	iterations := 5
	if soak() {
		iterations = 100
	}
	path := filepath.Join(t.TempDir(), "cdc.db")
	seen := map[int64]bool{}
	acked := map[int64]bool{}
	var saved uint64
	for iter := range iterations {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCDCChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), cdcChildEnv+"="+path, cdcChildEnv+"_SINCE="+strconv.FormatUint(saved, 10))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		timer := time.AfterFunc(time.Duration(100+iter*37%200)*time.Millisecond, func() { cmd.Process.Kill() })
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "ack":
				n, _ := strconv.ParseInt(f[1], 10, 64)
				acked[n] = true
			case len(f) == 3 && f[0] == "seen":
				lsn, _ := strconv.ParseUint(f[1], 10, 64)
				n, _ := strconv.ParseInt(f[2], 10, 64)
				if seen[n] {
					t.Fatalf("iteration %d: row %d delivered twice", iter, n)
				}
				seen[n] = true
				saved = lsn
			case len(f) > 0 && f[0] == "error":
				cmd.Process.Kill()
				t.Fatalf("child: %s", sc.Text())
			}
		}
		timer.Stop()
		cmd.Wait()
	}

	db := openTestDSN(t, "file:"+path+"?cdc=on")
	s := stream(t, db, ChangeOptions{Since: changefeed.LSN(saved)})
	committed := map[int64]bool{}
	rows, err := db.Query("SELECT n FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		rows.Scan(&n)
		committed[n] = true
	}
	rows.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		ch, err := s.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		n := ch.New[0].(int64)
		if seen[n] {
			t.Fatalf("row %d delivered before the crash and again after resuming from %d", n, saved)
		}
		seen[n] = true
	}
	for n := range acked {
		if !committed[n] {
			t.Fatalf("acknowledged row %d is not in the database", n)
		}
	}
	for n := range committed {
		if !seen[n] {
			t.Fatalf("committed row %d never reached a stream (a gap)", n)
		}
	}
	for n := range seen {
		if !committed[n] {
			t.Fatalf("row %d reached a stream but is not committed", n)
		}
	}
	t.Logf("%d rows committed, %d acknowledged, all streamed exactly once over %d kills", len(committed), len(acked), iterations)
}
