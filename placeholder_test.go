package libsql

import (
	"database/sql"
	"strings"
	"testing"
)

func TestEveryPlaceholderForm(t *testing.T) {
	db := openTestDB(t, "")
	tests := []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"question", "SELECT ? || ? || ?", []any{"a", "b", "c"}, "abc"},
		{"numbered", "SELECT ?2 || ?1 || ?2", []any{"a", "b"}, "bab"},
		{"colon", "SELECT :x || :y || :x", []any{sql.Named("x", "a"), sql.Named("y", "b")}, "aba"},
		{"at", "SELECT @x || @y", []any{sql.Named("y", "b"), sql.Named("x", "a")}, "ab"},
		{"dollar", "SELECT $x || $y", []any{sql.Named("x", "a"), sql.Named("y", "b")}, "ab"},
		{"dollar number", "SELECT $2 || $1", []any{"a", "b"}, "ba"},
		{"named by position", "SELECT :x || :y", []any{"a", "b"}, "ab"},
		{"mixed", "SELECT ? || :n || ?", []any{"a", sql.Named("n", "b"), "c"}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := db.QueryRow(tt.query, tt.args...).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// The same through a prepared statement.
			st, err := db.Prepare(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.QueryRow(tt.args...).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("prepared: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMissingArgumentsAreErrors(t *testing.T) {
	db := openTestDB(t, "")
	tests := []struct {
		query string
		args  []any
		want  string
	}{
		{"SELECT ?, ?", []any{1}, "no argument for parameter ?2"},
		{"SELECT :a", []any{sql.Named("b", 1)}, `no argument named "a"`},
		{"SELECT ?3", []any{1, 2}, "no argument for parameter ?3"},
	}
	for _, tt := range tests {
		var x any
		err := db.QueryRow(tt.query, tt.args...).Scan(&x)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: err %v, want %q", tt.query, tt.args, err, tt.want)
		}
	}
}

func TestUnsupportedArgumentTypeIsAnError(t *testing.T) {
	db := openTestDB(t, "")
	_, err := db.Exec("SELECT ?", struct{ A int }{1})
	if err == nil {
		t.Fatal("a struct argument was accepted")
	}
}
