package ioback

import (
	"math"
	"reflect"
	"testing"
)

func TestLockTable(t *testing.T) {
	var lt lockTable
	if !lt.lock(1, 0, 100, false) || !lt.lock(2, 50, 150, false) {
		t.Fatal("shared locks conflict")
	}
	if lt.lock(1, 60, 70, true) {
		t.Fatal("upgrade over another owner's shared lock succeeded")
	}
	if !lt.lock(1, 10, 20, true) {
		t.Fatal("upgrade of an unshared part failed")
	}
	// Owner 1 now holds [0,10) shared, [10,20) excl, [20,100) shared.
	if got := lt.spans(1); len(got) != 3 {
		t.Fatalf("owner 1 spans %v", got)
	}
	if got, want := lt.uncovered(1, 0, 200), []span{{0, 50}, {150, 200}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("uncovered = %v, want %v", got, want)
	}
	lt.cut(1, 5, 95)
	if got, want := lt.spans(1), []span{{0, 5}, {95, 100}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after cut: %v, want %v", got, want)
	}
	if !lt.lock(3, 200, math.MaxInt64, true) || lt.lock(1, 1<<40, 1<<40+1, false) {
		t.Fatal("lock to infinity")
	}
	lt.releaseAll(3)
	if !lt.lock(1, 1<<40, 1<<40+1, true) {
		t.Fatal("releaseAll left a lock")
	}
	if lockEnd(5, 0) != math.MaxInt64 || lockEnd(math.MaxInt64-1, 10) != math.MaxInt64 || lockEnd(5, 10) != 15 {
		t.Fatal("lockEnd")
	}
}
