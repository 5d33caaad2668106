package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDemoRunsAndPrintsResults(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"demo"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"inserted 4 authors and 6 books in one transaction",
		"Emma", "Kindred", "The Dispossessed",
		"DeadlineExceeded: true",
		"ErrConstraint: true",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Pride and Prejudice") {
		t.Error("the date filter let an older book through")
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	if code := run(nil, &out, &errOut); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code := run([]string{"help"}, &out, &errOut); code != 0 {
		t.Errorf("help: exit %d", code)
	}
}
