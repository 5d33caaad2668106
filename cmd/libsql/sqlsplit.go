package main

import "strings"

// Splitting SQL text into statements the way SQLite's sqlite3_complete
// decides that a statement is complete: at a ';' outside string literals,
// quoted identifiers and comments — except inside the body of CREATE
// TRIGGER, which holds ';'s of its own and ends at "END;".

// Tokens of the splitter, as in SQLite's complete.c.
const (
	tkSemi = iota
	tkWS
	tkOther
	tkExplain
	tkCreate
	tkTemp
	tkTrigger
	tkEnd
)

// States: 0 invalid (nothing yet), 1 start (after a complete statement),
// 2 normal, 3 explain, 4 create, 5 trigger body, 6 ';' in a trigger body,
// 7 END in a trigger body. trans[state][token] is the next state.
var completeTrans = [8][8]uint8{
	/*               SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END */
	/* 0 invalid */ {1, 0, 2, 3, 4, 2, 2, 2},
	/* 1 start   */ {1, 1, 2, 3, 4, 2, 2, 2},
	/* 2 normal  */ {1, 2, 2, 2, 2, 2, 2, 2},
	/* 3 explain */ {1, 3, 3, 2, 4, 2, 2, 2},
	/* 4 create  */ {1, 4, 2, 2, 2, 4, 5, 2},
	/* 5 trigger */ {6, 5, 5, 5, 5, 5, 5, 5},
	/* 6 semi    */ {6, 6, 5, 5, 5, 5, 5, 7},
	/* 7 end     */ {1, 7, 5, 5, 5, 5, 5, 5},
}

// sqlStmt is one complete statement found in a text.
type sqlStmt struct {
	text   string // from its first token to its ';', included
	offset int    // where it begins in the text
}

// splitSQL cuts the complete statements off the front of text. It returns
// them, each with its ';' and without the blanks and comments that came
// before it (statements that are only blanks, comments and ';' are
// dropped), and the rest: an incomplete statement, or blanks.
func splitSQL(text string) (stmts []sqlStmt, rest string) {
	state := uint8(0)
	start := 0    // where the current statement's text begins
	content := -1 // where its first real token begins, -1 if none yet
	i := 0
	for i < len(text) {
		tokStart := i
		var tok int
		switch c := text[i]; {
		case c == ';':
			tok = tkSemi
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			tok = tkWS
			i++
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return stmts, text[start:]
			}
			tok = tkWS
			i += end + 4
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				i = len(text)
			} else {
				i += end + 1
			}
			tok = tkWS
		case c == '[':
			end := strings.IndexByte(text[i+1:], ']')
			if end < 0 {
				return stmts, text[start:]
			}
			tok = tkOther
			i += end + 2
		case c == '`' || c == '"' || c == '\'':
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 {
				return stmts, text[start:]
			}
			tok = tkOther
			i += end + 2
		case isIDChar(c):
			j := i
			for j < len(text) && isIDChar(text[j]) {
				j++
			}
			tok = keywordToken(text[i:j])
			i = j
		default:
			tok = tkOther
			i++
		}
		if tok != tkWS && tok != tkSemi && content < 0 {
			content = tokStart
		}
		state = completeTrans[state][tok]
		if tok == tkSemi && state == 1 {
			if content >= 0 {
				stmts = append(stmts, sqlStmt{text[content:i], content})
			}
			start, content = i, -1
		}
	}
	return stmts, text[start:]
}

// isIDChar reports whether c may be part of an identifier or keyword (as
// SQLite's IdChar: letters, digits, '_', '$' and any byte of a multi-byte
// UTF-8 character).
func isIDChar(c byte) bool {
	return c >= 0x80 || c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// keywordToken classifies a word for splitSQL.
func keywordToken(w string) int {
	switch strings.ToUpper(w) {
	case "CREATE":
		return tkCreate
	case "TRIGGER":
		return tkTrigger
	case "TEMP", "TEMPORARY":
		return tkTemp
	case "END":
		return tkEnd
	case "EXPLAIN":
		return tkExplain
	}
	return tkOther
}

// blankSQL reports whether text holds nothing but blanks, comments and
// ';'s.
func blankSQL(text string) bool {
	stmts, rest := splitSQL(text + "\n;")
	return len(stmts) == 0 && strings.TrimSpace(rest) == ""
}
