package pool

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// The DSN's pool keys configure the pool where Options leave a field zero.
func TestPoolOpenAppliesTheDSNPoolKeys(t *testing.T) {
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "pool.db"))
	tests := []struct {
		query string
		opts  Options
		want  Options
	}{
		{"?max_conns=3&idle_timeout=7s&conn_lifetime=1h", Options{},
			Options{MaxConns: 3, AcquireTimeout: DefaultAcquireTimeout, IdleTimeout: 7 * time.Second, MaxLifetime: time.Hour}},
		{"?max_conns=3&idle_timeout=7s&conn_lifetime=1h", Options{MaxConns: 5, IdleTimeout: -1, MaxLifetime: time.Minute},
			Options{MaxConns: 5, AcquireTimeout: DefaultAcquireTimeout, IdleTimeout: -1, MaxLifetime: time.Minute}},
		{"?idle_timeout=0&conn_lifetime=0", Options{MaxConns: 2},
			Options{MaxConns: 2, AcquireTimeout: DefaultAcquireTimeout, IdleTimeout: -1}},
	}
	for _, tt := range tests {
		p, err := Open(dsn+tt.query, tt.opts)
		if err != nil {
			t.Fatalf("Open(%q): %v", tt.query, err)
		}
		got := p.Options()
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if got != tt.want {
			t.Errorf("Open(%q, %+v).Options() = %+v, want %+v", tt.query, tt.opts, got, tt.want)
		}
	}

	ctr, err := libsql.NewConnector(dsn, libsql.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	p := New(ctr, Options{})
	defer p.Close(context.Background())
	if got := p.Options().MaxConns; got != 4 {
		t.Errorf("New with a connector of WithMaxConns(4): MaxConns %d, want 4", got)
	}
}

// Open takes the connector's options: Go functions and connect hooks reach
// every pooled connection, and a bad option fails Open.
func TestPoolOpenTakesConnectorOptions(t *testing.T) {
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "fn.db"))
	hooks := 0
	p, err := Open(dsn, Options{MaxConns: 2},
		libsql.WithFunction("triple", 1, func(_ context.Context, args []driver.Value) (driver.Value, error) {
			return args[0].(int64) * 3, nil
		}, libsql.Deterministic),
		libsql.WithConnectHook(func(ctx context.Context, c *libsql.Conn) error {
			hooks++
			_, err := c.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS setup(x)")
			return err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	for range 2 {
		c, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := c.QueryRow(ctx, "SELECT triple(14) + (SELECT count(*) FROM temp.setup)").Scan(&n); err != nil || n != 42 {
			t.Fatalf("a pooled connection: %d %v, want 42", n, err)
		}
		p.Put(c)
	}
	if hooks == 0 {
		t.Fatal("the connect hook never ran")
	}
	if _, err := Open(dsn, Options{}, libsql.WithFunction("", 1, nil)); err == nil {
		t.Fatal("Open with a bad option: want an error")
	}
}
