// Command libsql is the project's command-line tool. For now it has one
// subcommand:
//
//	libsql demo    create a temporary database, fill it in a transaction and
//	               query it with a timeout, printing what happens
//
// More subcommands (shell, tail, check, bench) come with later work.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "demo":
		if err := demo(stdout); err != nil {
			fmt.Fprintln(stderr, "libsql demo:", err)
			return 1
		}
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "libsql: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: libsql <command>

commands:
  demo    run a small program on a temporary database and print its results`)
}
