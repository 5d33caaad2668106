package changefeed_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

func Example() {
	hub := changefeed.NewHub(changefeed.HubOptions{})
	defer hub.Close()
	hub.SetLast(1 << 32) // the database's newest commit at open

	stream, err := hub.Subscribe(changefeed.Options{Tables: []string{"users"}})
	if err != nil {
		panic(err)
	}
	defer stream.Close()

	// The driver, at commit, once it is durable:
	hub.Publish((&changefeed.Tx{
		LSN:        1<<32 + 1,
		CommitTime: time.Now(),
		Changes: []changefeed.Change{
			{Table: "users", Op: changefeed.Insert, RowID: 1, Columns: []string{"id", "name"}, New: []any{int64(1), "Ada"}},
			{Table: "audit", Op: changefeed.Insert, RowID: 9, Columns: []string{"msg"}, New: []any{"added Ada"}, Indirect: true},
		},
	}).Fill())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := stream.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.LSN, c.Index, c.Op, c.Table, c.New)
	fmt.Println("resume after", stream.LSN())
	// Output:
	// 4294967297 0 insert users [1 Ada]
	// resume after 4294967297
}

func ExampleAppendJSON() {
	c := changefeed.Change{
		LSN: 4294967297, Index: 0, Table: "files", Op: changefeed.Update, RowID: 7,
		Columns:    []string{"name", "size", "data"},
		Old:        []any{"a.txt", int64(3), []byte("abc")},
		New:        []any{"a.txt", 2.5, nil},
		CommitTime: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	os.Stdout.Write(append(changefeed.AppendJSON(nil, &c), '\n'))
	// Output:
	// {"lsn":4294967297,"index":0,"table":"files","op":"update","rowid":7,"pk":null,"columns":["name","size","data"],"old":{"name":"a.txt","size":3,"data":{"base64":"YWJj"}},"new":{"name":"a.txt","size":2.5,"data":null},"indirect":false,"time":"2025-01-02T03:04:05.000000006Z"}
}
