package script

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Error is a parse or run failure at a line of a script; it prints as
// "file:line: message".
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseFile reads and parses the script in file; defines are the
// command line's --define NAME=VAL values, which win over the script's.
func ParseFile(file string, defines map[string]string) (*Script, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, string(b), defines)
}

// Parse parses the text of a script. file names it in errors. The first
// error ends the parse; its message starts with "file:line:".
func Parse(file, src string, defines map[string]string) (*Script, error) {
	s := &Script{File: file}
	defs := make(map[string]string)
	body, line, comments, err := s.parseOptionLines(src, defs)
	if err != nil {
		return nil, err
	}
	for k, v := range defines {
		defs[k] = v
	}
	p := &parser{lx: newLexer(file, body, line, defs), s: s}
	p.lx.comments = comments
	if err := p.parseBody(); err != nil {
		return nil, err
	}
	if err := p.headers(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseOptionLines reads the --name[=value] lines that open a script
// (blank lines and // comments may sit between them) and returns the rest
// of the text, the line it starts on, and the comments it passed.
func (s *Script) parseOptionLines(src string, defs map[string]string) (rest string, line int, comments []comment, err error) {
	off, line := 0, 1
	for off < len(src) {
		end := strings.IndexByte(src[off:], '\n')
		next := len(src)
		if end >= 0 {
			next = off + end + 1
		}
		text := strings.TrimSpace(src[off:min(next, len(src))])
		switch {
		case text == "":
		case strings.HasPrefix(text, "//"):
			comments = append(comments, comment{line, strings.TrimSpace(text[2:])})
		case strings.HasPrefix(text, "--"):
			if i := strings.Index(text, " //"); i >= 0 {
				text = strings.TrimSpace(text[:i])
			}
			o := OptionLine{Line: line, Name: text[2:]}
			if i := strings.IndexByte(o.Name, '='); i >= 0 {
				o.Name, o.Value, o.Set = o.Name[:i], o.Name[i+1:], true
			} else if i := strings.IndexAny(o.Name, " \t"); i >= 0 {
				o.Name, o.Value, o.Set = o.Name[:i], strings.TrimSpace(o.Name[i+1:]), true
			}
			if o.Name == "" {
				return "", 0, nil, &Error{s.File, line, "empty option name"}
			}
			if o.Name == "define" || o.Name == "D" {
				k, v, ok := strings.Cut(o.Value, "=")
				if !ok || k == "" {
					return "", 0, nil, &Error{s.File, line, "--define wants NAME=VALUE"}
				}
				defs[k] = v
			}
			s.Options = append(s.Options, o)
		default:
			// The first line that is neither starts the body.
			return src[off:], line, comments, nil
		}
		off = next
		line++
	}
	return "", line, comments, nil
}

// parser holds the state of one parse.
type parser struct {
	lx *lexer
	s  *Script
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return p.lx.errorf(line, format, args...)
}

func (p *parser) next() (token, error) { return p.lx.next() }

func (p *parser) peek() (token, error) { return p.lx.peek(0) }

// accept consumes the next token if it is the punctuation or word s.
func (p *parser) accept(s string) (bool, error) {
	t, err := p.peek()
	if err != nil {
		return false, err
	}
	if t.is(s) {
		p.next()
		return true, nil
	}
	return false, nil
}

// expect consumes the punctuation or word s or fails with what it wanted.
func (p *parser) expect(s, what string) (token, error) {
	t, err := p.next()
	if err != nil {
		return t, err
	}
	if !t.is(s) {
		return t, p.errorf(t.line, "expected %s, got %s", what, t)
	}
	return t, nil
}

// parseBody parses init command, events and cleanup command.
func (p *parser) parseBody() error {
	t, err := p.peek()
	if err != nil {
		return err
	}
	if t.kind == tokBackquote {
		p.next()
		p.s.Init = &Command{Line: t.line, Text: t.text}
	}
	for {
		t, err := p.peek()
		if err != nil {
			return err
		}
		switch t.kind {
		case tokEOF:
			return nil
		case tokBackquote:
			p.next()
			if end, err := p.peek(); err != nil {
				return err
			} else if end.kind != tokEOF {
				return p.errorf(t.line, "a command without a time must be the last thing in the script (the cleanup command); give it a time")
			}
			if len(p.s.Events) == 0 {
				return p.errorf(t.line, "a second command without a time")
			}
			p.s.Cleanup = &Command{Line: t.line, Text: t.text}
			return nil
		}
		ev, err := p.parseEvent()
		if err != nil {
			return err
		}
		p.s.Events = append(p.s.Events, ev)
	}
}

// parseEvent parses one timed line.
func (p *parser) parseEvent() (*Event, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	ev := &Event{Line: t.line}
	if ev.Time, err = p.parseTime(); err != nil {
		return nil, err
	}
	if len(p.s.Events) == 0 && (ev.Time.Kind == TimeAny || ev.Time.Start != 0) {
		return nil, p.errorf(ev.Line, "the first event must be at time 0")
	}
	t, err = p.next()
	if err != nil {
		return nil, err
	}
	switch {
	case t.is("<") || t.is(">"):
		dir := Inbound
		if t.text == ">" {
			dir = Outbound
		}
		if ev.Packet, err = p.parsePacket(dir, t.line); err != nil {
			return nil, err
		}
	case t.kind == tokWord:
		if ev.Call, err = p.parseCall(t); err != nil {
			return nil, err
		}
	case t.kind == tokBackquote:
		ev.Command = &Command{Line: t.line, Text: t.text}
	case t.kind == tokCode:
		if ev.Code, err = parseCode(p.lx.file, t.line, t.text); err != nil {
			return nil, err
		}
	default:
		return nil, p.errorf(t.line, "expected a packet (< or >), a system call, a `command` or %%{ code }%% after the time, got %s", t)
	}
	if err := p.checkTime(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// checkTime enforces where each time form may be used.
func (p *parser) checkTime(ev *Event) error {
	tm := &ev.Time
	out := ev.Packet != nil && ev.Packet.Dir == Outbound
	switch {
	case tm.Kind == TimeAny && !out:
		return p.errorf(ev.Line, "time * is only allowed on outbound (>) packets")
	case tm.Range && !out:
		return p.errorf(ev.Line, "a time window ~ is only allowed on outbound (>) packets")
	case tm.Block && ev.Call == nil:
		return p.errorf(ev.Line, "START...END is only allowed on system calls")
	}
	if tm.Kind == TimeAbsolute && len(p.s.Events) > 0 {
		// Absolute times may not go backwards.
		for i := len(p.s.Events) - 1; i >= 0; i-- {
			prev := p.s.Events[i].Time
			if prev.Kind == TimeAbsolute {
				if tm.Start < prev.Start {
					return p.errorf(ev.Line, "time %s is before the previous absolute time %s", fmtSec(tm.Start), fmtSec(prev.Start))
				}
				break
			}
		}
	}
	if tm.Range || tm.Block {
		endAbs := tm.End
		if tm.Range && tm.EndKind == TimeRelative && tm.Kind == TimeAbsolute {
			return p.errorf(ev.Line, "a window that starts at an absolute time must end at one")
		}
		if tm.Range && tm.EndKind == TimeAbsolute && tm.Kind == TimeRelative {
			return p.errorf(ev.Line, "a window that starts at a relative time must end at one (+)")
		}
		if endAbs < tm.Start {
			return p.errorf(ev.Line, "the time window ends (%s) before it starts (%s)", fmtSec(tm.End), fmtSec(tm.Start))
		}
	}
	return nil
}

// parseTime parses *, [+]N, [+]N~[+]M and [+]N...M.
func (p *parser) parseTime() (EventTime, error) {
	var tm EventTime
	if ok, err := p.accept("*"); err != nil {
		return tm, err
	} else if ok {
		tm.Kind = TimeAny
		return tm, nil
	}
	kind, d, err := p.parseOneTime()
	if err != nil {
		return tm, err
	}
	tm.Kind, tm.Start = kind, d
	if ok, err := p.accept("~"); err != nil {
		return tm, err
	} else if ok {
		tm.Range = true
		if tm.EndKind, tm.End, err = p.parseOneTime(); err != nil {
			return tm, err
		}
		return tm, nil
	}
	if ok, err := p.accept("..."); err != nil {
		return tm, err
	} else if ok {
		tm.Block = true
		t, err := p.peek()
		if err != nil {
			return tm, err
		}
		if t.is("+") {
			return tm, p.errorf(t.line, "the END of START...END is written without +: it counts from the same point as START")
		}
		_, tm.End, err = p.parseOneTime()
		return tm, err
	}
	return tm, nil
}

// parseOneTime parses [+]seconds.
func (p *parser) parseOneTime() (TimeKind, time.Duration, error) {
	kind := TimeAbsolute
	if ok, err := p.accept("+"); err != nil {
		return kind, 0, err
	} else if ok {
		kind = TimeRelative
	}
	t, err := p.next()
	if err != nil {
		return kind, 0, err
	}
	if t.kind != tokInt && t.kind != tokFloat {
		return kind, 0, p.errorf(t.line, "expected a time in seconds, got %s", t)
	}
	d, err := parseSeconds(t.text)
	if err != nil {
		return kind, 0, p.errorf(t.line, "%v", err)
	}
	return kind, d, nil
}

// parseSeconds reads "2", "2.5", ".25" as an exact duration (to the
// nanosecond); negative times are an error.
func parseSeconds(s string) (time.Duration, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative time %s", s)
	}
	ip, fp, _ := strings.Cut(s, ".")
	var d time.Duration
	if ip != "" {
		n, err := strconv.ParseInt(ip, 10, 64)
		if err != nil || n > 1<<30 {
			return 0, fmt.Errorf("bad time %q", s)
		}
		d = time.Duration(n) * time.Second
	}
	if len(fp) > 9 {
		fp = fp[:9]
	}
	if fp != "" {
		n, err := strconv.ParseInt(fp+strings.Repeat("0", 9-len(fp)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", s)
		}
		d += time.Duration(n)
	}
	return d, nil
}

// fmtSec prints a duration as seconds, as scripts write them.
func fmtSec(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

// parseInt reads a decimal or 0x integer token.
func parseInt(t token) (int64, error) {
	if t.kind != tokInt {
		return 0, fmt.Errorf("expected an integer, got %s", t)
	}
	v, err := strconv.ParseInt(t.text, 0, 64)
	if err != nil {
		u, err2 := strconv.ParseUint(t.text, 0, 64)
		if err2 != nil {
			return 0, fmt.Errorf("bad integer %s", t.text)
		}
		v = int64(u)
	}
	return v, nil
}

// intToken reads an integer within [lo, hi].
func (p *parser) intToken(what string, lo, hi int64) (int64, int, error) {
	t, err := p.next()
	if err != nil {
		return 0, 0, err
	}
	v, err := parseInt(t)
	if err != nil {
		return 0, t.line, p.errorf(t.line, "%s: %v", what, err)
	}
	if v < lo || v > hi {
		return 0, t.line, p.errorf(t.line, "%s %d out of range [%d, %d]", what, v, lo, hi)
	}
	return v, t.line, nil
}

var headerRE = regexp.MustCompile(`^synack:\s*(known-difference|choice)\s+([A-Za-z0-9_.#-]+)(?:\s+line\s+(\d+))?\s*:\s*(.*)$`)

// headers reads the "// synack:" comments: see Expectation.
func (p *parser) headers() error {
	for _, c := range p.lx.comments {
		if !strings.HasPrefix(c.text, "synack:") {
			continue
		}
		m := headerRE.FindStringSubmatch(c.text)
		if m == nil {
			return p.errorf(c.line, "bad header: want // synack: known-difference|choice ISSUE [line N]: why")
		}
		e := Expectation{HeaderLine: c.line, Kind: m[1], Issue: m[2], Why: strings.TrimSpace(m[4])}
		if m[3] != "" {
			e.Line, _ = strconv.Atoi(m[3])
		} else {
			// The event on the comment's line, or the next one.
			for _, ev := range p.s.Events {
				if ev.Line >= c.line {
					e.Line = ev.Line
					break
				}
			}
		}
		found := false
		for _, ev := range p.s.Events {
			found = found || ev.Line == e.Line
		}
		if !found {
			return p.errorf(c.line, "header names line %d, where no event starts", e.Line)
		}
		p.s.Expect = append(p.s.Expect, e)
	}
	return nil
}
