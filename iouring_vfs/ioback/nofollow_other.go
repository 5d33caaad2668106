//go:build !unix

package ioback

// oNoFollow is 0 where open has no O_NOFOLLOW.
const oNoFollow = 0
