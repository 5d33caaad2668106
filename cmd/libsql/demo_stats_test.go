package main

import (
	"regexp"
	"strconv"
	"testing"
)

// The demo's results break the concurrent commits down into every way
// they committed: direct, merged and rebased add up to the commits.
func TestDemoShowsHowConcurrentCommitsCommitted(t *testing.T) {
	r := runTool(t, "", "demo", "--duration", "200ms", "--writers", "4", "--accounts", "200")
	r.want(t, 0)
	m := regexp.MustCompile(`(\d+) concurrent commits: (\d+) direct, (\d+) merged, (\d+) rebased; (\d+) conflicts`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no direct/merged/rebased/conflicts line:\n%s", r.stdout)
	}
	n := make([]int, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	if n[1] == 0 || n[2]+n[3]+n[4] != n[1] {
		t.Errorf("%s: direct, merged and rebased do not add up to the commits", m[0])
	}
}
