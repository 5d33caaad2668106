//go:build !race

package iouringvfs

const raceEnabled = false
