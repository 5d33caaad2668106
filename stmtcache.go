package libsql

import (
	"github.com/golibsql/libsql/internal/capi"
)

// prepared is a compiled single statement and what the driver derives from
// it, kept between uses by the statement cache.
type prepared struct {
	s     *capi.Stmt
	query string // the SQL text; with user, the cache key
	// user: compiled as the user's statement (capi.PREPARE_USER), judged by
	// the authorizer; the driver's own statements never are, so the two
	// kinds of one text are cached apart.
	user bool
	rows rows // reused by each query run on the statement
	busy bool // rows of a query on it are open
	// closeAfter: the driver.Stmt holding it closed while its rows were
	// open; closing the rows releases it.
	closeAfter bool

	// kinds says, for each result column, how to read it (see colKind); it
	// is recomputed when SQLite re-prepares the statement.
	kinds   []colKind
	reprep  int32
	kindsOK bool
	// gen is the schema generation s was compiled under: a cached
	// statement of an older one is prepared again before it runs (see
	// prepare).
	gen capi.SchemaGen

	prev, next *prepared // LRU list links while cached
}

// stmtCache is a connection's bounded LRU cache of prepared statements,
// keyed by SQL text (and kind: see stmtKey). A statement in use is taken out of the cache and put
// back, reset, when the use ends; the cache only ever holds idle ones.
type stmtCache struct {
	max  int
	m    map[stmtKey]*prepared
	head *prepared // most recently used
	tail *prepared // least recently used
}

// stmtKey is what the cache finds a statement by: its text, and whether
// it is the user's (see prepared.user).
type stmtKey struct {
	query string
	user  bool
}

func (p *prepared) key() stmtKey { return stmtKey{p.query, p.user} }

func newStmtCache(max int) stmtCache {
	return stmtCache{max: max, m: make(map[stmtKey]*prepared, min(max, 64))}
}

// take removes the statement cached for k and returns it, or nil.
func (c *stmtCache) take(k stmtKey) *prepared {
	p := c.m[k]
	if p == nil {
		return nil
	}
	delete(c.m, k)
	c.unlink(p)
	return p
}

// put caches an idle statement as the most recently used. It returns a
// statement the caller must finalize: p itself when the cache is off or
// already holds the same SQL, or the least recently used one it evicted.
func (c *stmtCache) put(p *prepared) (drop *prepared) {
	if c.max == 0 || c.m[p.key()] != nil {
		return p
	}
	c.m[p.key()] = p
	p.next = c.head
	if c.head != nil {
		c.head.prev = p
	}
	c.head = p
	if c.tail == nil {
		c.tail = p
	}
	if len(c.m) > c.max {
		drop = c.tail
		delete(c.m, drop.key())
		c.unlink(drop)
	}
	return drop
}

func (c *stmtCache) unlink(p *prepared) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		c.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		c.tail = p.prev
	}
	p.prev, p.next = nil, nil
}

// len returns the number of cached statements.
func (c *stmtCache) len() int { return len(c.m) }

// clear finalizes every cached statement.
func (c *stmtCache) clear() {
	for p := c.head; p != nil; {
		next := p.next
		p.s.Finalize()
		p = next
	}
	c.m = map[stmtKey]*prepared{}
	c.head, c.tail = nil, nil
}

// maxArenaKept is the largest bind arena a cached statement keeps; a larger
// one (a big blob was bound) is freed when the statement goes back.
const maxArenaKept = 64 << 10

// prepare returns a prepared single statement for query: from the cache, or
// compiled now. It returns errMulti if query holds more than one statement,
// and a prepared with a nil statement if it holds none.
func (c *conn) prepare(query string) (*prepared, error) { return c.prepareAs(query, false) }

// prepareUser is prepare for SQL the user gave: the authorizer judges it.
func (c *conn) prepareUser(query string) (*prepared, error) { return c.prepareAs(query, true) }

func (c *conn) prepareAs(query string, user bool) (*prepared, error) {
	p, head, err := c.prepareHead(query, user)
	head.finalize()
	return p, err
}

// scriptHead is the first statement of a text of several, compiled by
// prepareHead as it found the text has more: the script that runs the
// text starts with it rather than compile it again (and have an
// authorizer judge it twice).
type scriptHead struct {
	s *capi.Stmt // nil if the text starts with no statement (a comment)
	n int        // the bytes of the text it takes
}

// finalize drops a head no script will run.
func (h *scriptHead) finalize() {
	if h != nil && h.s != nil {
		h.s.Finalize()
	}
}

// prepareHead is prepareAs, which for a text of several statements
// returns errMulti with the first one compiled.
func (c *conn) prepareHead(query string, user bool) (*prepared, *scriptHead, error) {
	if p := c.cache.take(stmtKey{query, user}); p != nil {
		if p.gen == c.cc.SchemaGeneration() {
			return p, nil, nil
		}
		// Compiled for a schema changed since (by this connection, or by
		// another and reloaded here). SQLite would prepare it again, but
		// only after its program took the locks it starts with: a
		// CREATE TABLE IF NOT EXISTS run again would take the writer lock
		// to create nothing, and a write whose table is gone would take
		// it, fail, and keep it to the end of the transaction.
		p.s.Finalize()
	}
	s, tail, err := c.cc.Prepare(query, capi.PREPARE_PERSISTENT|userFlag(user))
	if err != nil {
		return nil, nil, err
	}
	if !blankSQL(tail) {
		return nil, &scriptHead{s: s, n: len(query) - len(tail)}, errMulti
	}
	return &prepared{s: s, query: query, user: user, gen: c.cc.SchemaGeneration()}, nil, nil
}

// userFlag is capi.PREPARE_USER for the user's statements.
func userFlag(user bool) uint32 {
	if user {
		return capi.PREPARE_USER
	}
	return 0
}

// release puts a statement back after use: reset, and cached if it is one.
func (c *conn) release(p *prepared) {
	if p.s == nil || p.s.Finalized() {
		return
	}
	p.s.Reset()
	if c.cc.Closed() {
		return
	}
	p.s.TrimBindArena(maxArenaKept)
	if drop := c.cache.put(p); drop != nil {
		drop.s.Finalize()
	}
}

// blankSQL reports whether s holds nothing SQLite would compile: only
// whitespace, semicolons and comments.
func blankSQL(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v', ';':
		case '-':
			if i+1 >= len(s) || s[i+1] != '-' {
				return false
			}
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case '/':
			if i+1 >= len(s) || s[i+1] != '*' {
				return false
			}
			end := -1
			for j := i + 2; j+1 < len(s); j++ {
				if s[j] == '*' && s[j+1] == '/' {
					end = j + 1
					break
				}
			}
			if end < 0 {
				return true // an unterminated comment runs to the end
			}
			i = end
		default:
			return false
		}
	}
	return true
}
