package libsql

import (
	"fmt"
	"math"

	"github.com/golibsql/libsql/internal/capi"
)

// Limit names one of SQLite's run-time limits
// (https://sqlite.org/c3ref/c_limit_attached.html): with an [Authorizer],
// what keeps SQL the application did not write from exhausting memory or
// time. The values are SQLite's.
type Limit int32

// The limits.
const (
	LimitLength            Limit = 0  // bytes of a string or blob, or of a row
	LimitSQLLength         Limit = 1  // bytes of an SQL text
	LimitColumn            Limit = 2  // columns of a table, index, result or GROUP BY
	LimitExprDepth         Limit = 3  // depth of an expression's parse tree
	LimitCompoundSelect    Limit = 4  // terms of a compound SELECT
	LimitVDBEOp            Limit = 5  // instructions of a statement's program
	LimitFunctionArg       Limit = 6  // arguments of a function
	LimitAttached          Limit = 7  // attached databases
	LimitLikePatternLength Limit = 8  // bytes of a LIKE or GLOB pattern
	LimitVariableNumber    Limit = 9  // the largest parameter number
	LimitTriggerDepth      Limit = 10 // depth of triggers firing triggers
	LimitWorkerThreads     Limit = 11 // auxiliary threads of one statement
	LimitParserDepth       Limit = 12 // depth of the parser's stack
	LimitSchema            Limit = 13 // objects of a schema
	LimitTriggerSteps      Limit = 14 // statements of one trigger
)

var limitNames = [...]string{
	"Length", "SQLLength", "Column", "ExprDepth", "CompoundSelect", "VDBEOp",
	"FunctionArg", "Attached", "LikePatternLength", "VariableNumber",
	"TriggerDepth", "WorkerThreads", "ParserDepth", "Schema", "TriggerSteps",
}

// String returns the limit's name without its Limit prefix ("SQLLength").
func (l Limit) String() string {
	if l >= 0 && int(l) < len(limitNames) {
		return limitNames[l]
	}
	return fmt.Sprintf("Limit(%d)", int32(l))
}

func (l Limit) check(value int) error {
	if l < 0 || l >= capi.LIMIT_N {
		return fmt.Errorf("no such limit: %v", l)
	}
	if value < 0 || value > math.MaxInt32 {
		return fmt.Errorf("limit %v: value %d out of range (0 to %d)", l, value, math.MaxInt32)
	}
	return nil
}

// limitSetting is one WithLimit.
type limitSetting struct {
	l     Limit
	value int
}

// WithLimit sets run-time limit l to value on every connection of the
// connector (sqlite3_limit), from its first use on: after its setup and
// its WithConnectHook hooks. SQLite lowers a value above the limit's
// compile-time bound to the bound, and raises LimitLength below 30 to 30.
// The limits apply to the driver's own
// statements too: one below what they need (LimitSQLLength or LimitColumn
// for the replay of a BEGIN CONCURRENT transaction on a wide table,
// LimitLength for a durable CDC record of a large row) fails them. A
// connection given back to the pool has the connector's limits again,
// whatever [Conn.Limit] set meanwhile.
func WithLimit(l Limit, value int) Option {
	return func(c *config) error {
		if err := l.check(value); err != nil {
			return fmt.Errorf("libsql: WithLimit: %w", err)
		}
		c.limits = append(c.limits, limitSetting{l, value})
		return nil
	}
}

// LimitSetter is implemented by the driver's connections (reached with
// sql.Conn.Raw): Limit reads and sets a run-time limit of the connection,
// as [Conn.Limit] does, until the connection goes back to the pool.
type LimitSetter interface {
	Limit(l Limit, value int) (int, error)
}

var _ LimitSetter = (*conn)(nil)

// Limit sets the connection's run-time limit l to value, or only reads
// it if value is negative, and returns its value before. SQLite lowers a
// value above the limit's compile-time bound to the bound, and raises
// LimitLength below 30 to 30.
func (c *Conn) Limit(l Limit, value int) (int, error) {
	if c.c.cc.Closed() {
		return 0, errConnClosed
	}
	return c.c.Limit(l, value)
}

// Limit implements LimitSetter.
func (c *conn) Limit(l Limit, value int) (int, error) {
	if value < 0 {
		if err := l.check(0); err != nil {
			return 0, fmt.Errorf("libsql: Limit: %w", err)
		}
		return int(c.cc.Limit(int32(l), -1)), nil
	}
	if err := l.check(value); err != nil {
		return 0, fmt.Errorf("libsql: Limit: %w", err)
	}
	if !c.limitsChanged {
		// The first change since the connection was set up or reset:
		// keep the connector's values, which ResetSession puts back.
		for id := range c.limits {
			c.limits[id] = c.cc.Limit(int32(id), -1)
		}
		c.limitsChanged = true
	}
	return int(c.cc.Limit(int32(l), int32(value))), nil
}

// applyLimits sets the connector's limits on a new connection.
func (c *conn) applyLimits() {
	for _, s := range c.cfg.limits {
		c.cc.Limit(int32(s.l), int32(s.value))
	}
}

// resetLimits puts back the values Limit kept before its first change.
func (c *conn) resetLimits() {
	if c.limitsChanged {
		for id, v := range c.limits {
			c.cc.Limit(int32(id), v)
		}
		c.limitsChanged = false
	}
}
