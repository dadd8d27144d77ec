package script

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a token of the script language.
type tokKind uint8

const (
	tokEOF       tokKind = iota
	tokInt               // 12, -1, 0x2f
	tokFloat             // .25, 0.300, 2.5
	tokWord              // SOL_TCP, sackOK, ack
	tokString            // "reno" (text holds the unquoted value)
	tokBackquote         // `sysctl -q ...` (text holds what is between the backquotes)
	tokCode              // %{ ... }% (text holds the trimmed inside)
	tokEllipsis          // ...
	tokIPv4              // 192.0.2.1
	tokPunct             // one character: < > ( ) [ ] { } , : = | + * ~ . - / ! &
)

var tokNames = [...]string{
	tokEOF: "end of file", tokInt: "integer", tokFloat: "number", tokWord: "word",
	tokString: "string", tokBackquote: "shell command", tokCode: "code block",
	tokEllipsis: "...", tokIPv4: "IPv4 address", tokPunct: "punctuation",
}

// token is one lexeme with the line it starts on.
type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return tokNames[tokEOF]
	case tokString:
		return `"` + t.text + `"`
	case tokBackquote:
		return "`" + t.text + "`"
	case tokCode:
		return "%{...}%"
	}
	return "'" + t.text + "'"
}

// is reports whether t is the punctuation or word s.
func (t token) is(s string) bool {
	return (t.kind == tokPunct || t.kind == tokWord || t.kind == tokEllipsis) && t.text == s
}

// lexer turns script text into tokens on demand: the parser pulls them one
// at a time, and for the free text of a system call's note it asks for the
// raw text up to the closing parenthesis instead (rawParen).
type lexer struct {
	file    string
	src     string
	pos     int
	line    int
	defines map[string]string // --define NAME=VAL: words replaced while lexing
	peeked  []token
	// comments collects the text of every // comment with its line, for
	// the "// synack:" headers.
	comments []comment
}

// comment is one // comment of the script.
type comment struct {
	line int
	text string // after the //, trimmed
}

func newLexer(file, src string, line int, defines map[string]string) *lexer {
	return &lexer{file: file, src: src, line: line, defines: defines}
}

// errorf makes a file:line error.
func (l *lexer) errorf(line int, format string, args ...any) error {
	return &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// peek returns the token n ahead (0 = next) without consuming it.
func (l *lexer) peek(n int) (token, error) {
	for len(l.peeked) <= n {
		t, err := l.scan()
		if err != nil {
			return token{}, err
		}
		l.peeked = append(l.peeked, t)
	}
	return l.peeked[n], nil
}

// next consumes and returns the next token.
func (l *lexer) next() (token, error) {
	t, err := l.peek(0)
	if err != nil {
		return t, err
	}
	l.peeked = l.peeked[1:]
	return t, nil
}

// skipSpace skips blanks, newlines and comments.
func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				end = len(l.src) - l.pos
			}
			l.comments = append(l.comments, comment{l.line, strings.TrimSpace(l.src[l.pos+2 : l.pos+end])})
			l.pos += end
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			start := l.line
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(start, "comment /* is never closed")
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isWord(c byte) bool   { return isLetter(c) || isDigit(c) }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scan reads one token.
func (l *lexer) scan() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, line: l.line}, nil
	}
	s, line := l.src[l.pos:], l.line
	c := s[0]
	switch {
	case strings.HasPrefix(s, "..."):
		l.pos += 3
		return token{tokEllipsis, "...", line}, nil
	case strings.HasPrefix(s, "%{"):
		end := strings.Index(s, "}%")
		if end < 0 {
			return token{}, l.errorf(line, "code block %%{ is never closed with }%%")
		}
		text := s[2:end]
		l.line += strings.Count(s[:end+2], "\n")
		l.pos += end + 2
		return token{tokCode, text, line}, nil
	case c == '`':
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return token{}, l.errorf(line, "backquoted command is never closed")
		}
		text := s[1 : 1+end]
		l.line += strings.Count(text, "\n")
		l.pos += end + 2
		return token{tokBackquote, text, line}, nil
	case c == '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '"':
				l.pos += i + 1
				return token{tokString, b.String(), line}, nil
			case '\\':
				if i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case '0':
						b.WriteByte(0)
					default:
						b.WriteByte(s[i])
					}
				}
			case '\n':
				return token{}, l.errorf(line, "string is not closed on its line")
			default:
				b.WriteByte(s[i])
			}
		}
		return token{}, l.errorf(line, "string is never closed")
	case isDigit(c) || c == '.' && len(s) > 1 && isDigit(s[1]) || c == '-' && len(s) > 1 && (isDigit(s[1]) || s[1] == '.' && len(s) > 2 && isDigit(s[2])):
		return l.number(s, line)
	case isLetter(c):
		i := 1
		for i < len(s) && isWord(s[i]) {
			i++
		}
		w := s[:i]
		l.pos += i
		if v, ok := l.defines[w]; ok {
			return l.defined(v, line)
		}
		return token{tokWord, w, line}, nil
	}
	l.pos++
	return token{tokPunct, string(c), line}, nil
}

// number reads an integer, a hex integer, a decimal, or an IPv4 address.
func (l *lexer) number(s string, line int) (token, error) {
	i := 0
	if s[0] == '-' {
		i++
	}
	if strings.HasPrefix(s[i:], "0x") || strings.HasPrefix(s[i:], "0X") {
		j := i + 2
		for j < len(s) && isHex(s[j]) {
			j++
		}
		if j == i+2 {
			return token{}, l.errorf(line, "hex number %q has no digits", s[:j])
		}
		l.pos += j
		return token{tokInt, s[:j], line}, nil
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	// A dot followed by a digit continues a decimal ("3." is not one).
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		// Two more dotted parts make an IPv4 address: 192.0.2.1.
		if i == 0 && j > 0 {
			parts, m := 2, k
			for parts < 4 && m+1 < len(s) && s[m] == '.' && isDigit(s[m+1]) {
				m++
				for m < len(s) && isDigit(s[m]) {
					m++
				}
				parts++
			}
			if parts == 4 {
				l.pos += m
				return token{tokIPv4, s[:m], line}, nil
			}
		}
		if k < len(s) && isLetter(s[k]) {
			return token{}, l.errorf(line, "bad number %q", s[:k+1])
		}
		l.pos += k
		return token{tokFloat, s[:k], line}, nil
	}
	if j < len(s) && isLetter(s[j]) && i == 0 {
		// Digits run into letters: a hex blob such as an md5 key or a
		// Fast Open cookie, or a mistyped number ("1ms"), which the
		// parser then rejects where it wants a number.
		k := j
		for k < len(s) && isWord(s[k]) {
			k++
		}
		l.pos += k
		return token{tokWord, s[:k], line}, nil
	}
	l.pos += j
	return token{tokInt, s[:j], line}, nil
}

// defined lexes the value of a --define'd word as one token.
func (l *lexer) defined(v string, line int) (token, error) {
	sub := &lexer{file: l.file, src: v, line: line}
	t, err := sub.scan()
	if err != nil {
		return t, err
	}
	if rest, _ := sub.scan(); rest.kind != tokEOF {
		// A value of several tokens stands as one word: good enough for
		// the symbols and numbers --define is used for.
		return token{tokWord, v, line}, nil
	}
	t.line = line
	return t, nil
}

// rawParen returns the raw text up to the parenthesis that closes the one
// just consumed (nesting counted), and consumes it: the free words of a
// system call's note, such as "(Operation now in progress)".
func (l *lexer) rawParen(line int) (string, error) {
	if len(l.peeked) > 0 {
		// The parser asks for raw text right after consuming '(';
		// peeked tokens would have been lexed from that text already.
		return "", l.errorf(line, "internal error: raw text after a peek")
	}
	depth := 1
	for i := l.pos; i < len(l.src); i++ {
		switch l.src[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				text := l.src[l.pos:i]
				l.line += strings.Count(text, "\n")
				l.pos = i + 1
				return strings.TrimSpace(text), nil
			}
		}
	}
	return "", l.errorf(line, "parenthesis is never closed")
}
