package provider

import (
	"strconv"
	"strings"
)

// SyntaxError reports a file whose content cannot be read: a credentials
// file, a secret file or a profiles file that does not parse, or that holds
// an entry no valid file would. Every package of this module that parses a
// file returns one for each such problem, so a caller finds the file and
// position of any of them with one errors.As:
//
//	var se *provider.SyntaxError
//	if errors.As(err, &se) {
//		fmt.Println(se.Path, se.Line, se.Column)
//	}
//
// Err is the parsing package's own sentinel, so errors.Is(err,
// file.ErrMalformed) and the like keep working.
//
// A SyntaxError names a position and says what is wrong; it never holds the
// file's text, which may be a secret pasted in the wrong place. Text taken
// from the file, such as a key, appears in Reason only as [Describe] renders
// it.
//
// A provider that returns one inside an [*Error] leaves that Error's Locator
// empty, since the SyntaxError names the file and position itself.
type SyntaxError struct {
	Path   string // the file, as the operator named it; "" if not known
	Format string // the file's format: "INI" or "JSON"
	Line   int    // 1-based; 0 if not known
	Column int    // 1-based, in bytes; 0 if not known
	Reason string // what is wrong, such as "section header has no closing ]"; never the file's text
	Err    error  // the parsing package's sentinel, such as file.ErrMalformed
}

// Error formats as "ERR: PATH:LINE:COLUMN: REASON", where ERR is the text of
// Err, which in this module always begins with its package's name:
//
//	file: malformed credentials file: /home/u/.mcp/credentials:3: section header has no closing ]
//
// A part that is not known is left out with its separator. The position is
// written as go/token writes one: "PATH:LINE:COLUMN", "PATH:LINE", "PATH",
// "LINE:COLUMN" or "LINE"; a Column without a Line is not shown.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if pos := e.position(); pos != "" {
		sep()
		b.WriteString(pos)
	}
	if e.Reason != "" {
		sep()
		b.WriteString(e.Reason)
	}
	return b.String()
}

// position returns "PATH:LINE:COLUMN" with the unknown parts left out.
func (e *SyntaxError) position() string {
	s := e.Path
	if e.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(e.Line)
		if e.Column > 0 {
			s += ":" + strconv.Itoa(e.Column)
		}
	}
	return s
}

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }
