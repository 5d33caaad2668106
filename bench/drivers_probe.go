package bench

import (
	_ "github.com/golibsql/libsql"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "modernc.org/sqlite"
)
