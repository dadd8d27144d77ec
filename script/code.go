package script

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Assert is one "assert EXPR[, MESSAGE]" statement of a code block. The
// interpreter evaluates it itself on the tcpi_* values of the socket under
// test, snapshot at the block's time: no Python is run.
type Assert struct {
	Line int
	Text string
	Cond *cexpr
	Msg  *cexpr // nil: none
}

// cexpr is a node of a code block expression: a number, a name, or an
// operator over its operands.
type cexpr struct {
	op   string // "num", "name", "call", or an operator: + - * / // % == != < <= > >= and or not neg in
	num  float64
	name string
	str  string // a string literal, for messages
	args []*cexpr
}

// parseCode parses the text of a %{ }% block that starts on line.
func parseCode(file string, line int, text string) (*Code, error) {
	c := &Code{Text: strings.TrimSpace(text)}
	// Join continued lines, keeping count of lines for errors.
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		stmtLine := line + i
		s := lines[i]
		for strings.HasSuffix(strings.TrimRight(s, " \t"), "\\") && i+1 < len(lines) {
			s = strings.TrimSuffix(strings.TrimRight(s, " \t"), "\\") + " " + lines[i+1]
			i++
		}
		for _, stmt := range splitStatements(s) {
			stmt = strings.TrimSpace(stmt)
			if stmt == "" || strings.HasPrefix(stmt, "#") {
				continue
			}
			a, err := parseAssert(stmt)
			if err != nil {
				return nil, &Error{File: file, Line: stmtLine, Msg: "code block: " + err.Error()}
			}
			a.Line = stmtLine
			c.Asserts = append(c.Asserts, a)
		}
	}
	return c, nil
}

// splitStatements splits on ';' outside strings and drops # comments.
func splitStatements(s string) []string {
	var out []string
	start, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			out = append(out, s[start:i])
			return out
		case c == ';':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseAssert parses "assert COND[, MSG]".
func parseAssert(stmt string) (*Assert, error) {
	rest, ok := strings.CutPrefix(stmt, "assert")
	if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '(' {
		return nil, fmt.Errorf("only assert statements are supported (assert tcpi_x OP value[, message]), got %q", stmt)
	}
	toks, err := ctokenize(rest)
	if err != nil {
		return nil, err
	}
	cp := &cparser{toks: toks}
	a := &Assert{Text: stmt}
	if a.Cond, err = cp.expr(); err != nil {
		return nil, err
	}
	if cp.peek() == "," {
		cp.pos++
		if a.Msg, err = cp.expr(); err != nil {
			return nil, err
		}
	}
	if cp.pos < len(cp.toks) {
		return nil, fmt.Errorf("unexpected %q in %q", cp.toks[cp.pos], stmt)
	}
	return a, nil
}

// ctokenize splits an expression into numbers, names, strings and
// operators.
func ctokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			j := i
			for j < len(s) && (isWord(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case isLetter(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("string not closed in %q", s)
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "//", "**":
				toks = append(toks, two)
				i += 2
				continue
			}
			if strings.IndexByte("+-*/%<>(),&|", c) < 0 {
				return nil, fmt.Errorf("unexpected %q in %q", c, s)
			}
			toks = append(toks, string(c))
			i++
		}
	}
	return toks, nil
}

type cparser struct {
	toks []string
	pos  int
}

func (p *cparser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *cparser) take() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *cparser) expr() (*cexpr, error) { return p.or() }

func (p *cparser) or() (*cexpr, error) {
	l, err := p.and()
	for err == nil && p.peek() == "or" {
		p.pos++
		var r *cexpr
		if r, err = p.and(); err == nil {
			l = &cexpr{op: "or", args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) and() (*cexpr, error) {
	l, err := p.not()
	for err == nil && p.peek() == "and" {
		p.pos++
		var r *cexpr
		if r, err = p.not(); err == nil {
			l = &cexpr{op: "and", args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) not() (*cexpr, error) {
	if p.peek() == "not" {
		p.pos++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &cexpr{op: "not", args: []*cexpr{x}}, nil
	}
	return p.comparison()
}

// comparison parses a chain a < b <= c (Python: a < b and b <= c), and
// "x in (a, b)".
func (p *cparser) comparison() (*cexpr, error) {
	l, err := p.bitor()
	if err != nil {
		return nil, err
	}
	var chain *cexpr
	for {
		op := p.peek()
		switch op {
		case "==", "!=", "<", "<=", ">", ">=":
		case "in":
			p.pos++
			if p.take() != "(" {
				return nil, fmt.Errorf("'in' wants a parenthesized list")
			}
			set := &cexpr{op: "in", args: []*cexpr{l}}
			for {
				x, err := p.sum()
				if err != nil {
					return nil, err
				}
				set.args = append(set.args, x)
				t := p.take()
				if t == ")" {
					break
				}
				if t != "," {
					return nil, fmt.Errorf("expected ',' or ')' in the list after 'in'")
				}
			}
			return set, nil
		default:
			if chain != nil {
				return chain, nil
			}
			return l, nil
		}
		p.pos++
		r, err := p.bitor()
		if err != nil {
			return nil, err
		}
		c := &cexpr{op: op, args: []*cexpr{l, r}}
		if chain == nil {
			chain = c
		} else {
			chain = &cexpr{op: "and", args: []*cexpr{chain, c}}
		}
		l = r
	}
}

// bitor and bitand are Python's | and &, which bind tighter than
// comparisons: tcpi_options & TCPI_OPT_SACK != 0.
func (p *cparser) bitor() (*cexpr, error) {
	l, err := p.bitand()
	for err == nil && p.peek() == "|" {
		p.pos++
		var r *cexpr
		if r, err = p.bitand(); err == nil {
			l = &cexpr{op: "|", args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) bitand() (*cexpr, error) {
	l, err := p.sum()
	for err == nil && p.peek() == "&" {
		p.pos++
		var r *cexpr
		if r, err = p.sum(); err == nil {
			l = &cexpr{op: "&", args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) sum() (*cexpr, error) {
	l, err := p.term()
	for err == nil && (p.peek() == "+" || p.peek() == "-") {
		op := p.take()
		var r *cexpr
		if r, err = p.term(); err == nil {
			l = &cexpr{op: op, args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) term() (*cexpr, error) {
	l, err := p.unary()
	for err == nil && (p.peek() == "*" || p.peek() == "/" || p.peek() == "//" || p.peek() == "%") {
		op := p.take()
		var r *cexpr
		if r, err = p.unary(); err == nil {
			l = &cexpr{op: op, args: []*cexpr{l, r}}
		}
	}
	return l, err
}

func (p *cparser) unary() (*cexpr, error) {
	if p.peek() == "-" {
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &cexpr{op: "neg", args: []*cexpr{x}}, nil
	}
	return p.atom()
}

func (p *cparser) atom() (*cexpr, error) {
	t := p.take()
	switch {
	case t == "":
		return nil, fmt.Errorf("expression ends too early")
	case t == "(":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.take() != ")" {
			return nil, fmt.Errorf("missing ')'")
		}
		return x, nil
	case t[0] == '"' || t[0] == '\'':
		return &cexpr{op: "str", str: t[1 : len(t)-1]}, nil
	case isDigit(t[0]) || t[0] == '.':
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			iv, err2 := strconv.ParseInt(t, 0, 64)
			if err2 != nil {
				return nil, fmt.Errorf("bad number %q", t)
			}
			v = float64(iv)
		}
		return &cexpr{op: "num", num: v}, nil
	case isLetter(t[0]):
		if p.peek() == "(" {
			p.pos++
			c := &cexpr{op: "call", name: t}
			for p.peek() != ")" {
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				c.args = append(c.args, x)
				if p.peek() == "," {
					p.pos++
				}
				if p.peek() == "" {
					return nil, fmt.Errorf("missing ')' after %s(", t)
				}
			}
			p.pos++
			switch t {
			case "abs", "min", "max", "int", "float":
			default:
				return nil, fmt.Errorf("unknown function %s (only abs, min, max, int, float)", t)
			}
			return c, nil
		}
		return &cexpr{op: "name", name: t}, nil
	}
	return nil, fmt.Errorf("unexpected %q", t)
}

// eval computes x with names looked up in vars; it fails on an unknown
// name, naming it.
func (x *cexpr) eval(vars func(string) (float64, bool)) (float64, error) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	switch x.op {
	case "num":
		return x.num, nil
	case "str":
		return 0, fmt.Errorf("a string where a number is needed")
	case "name":
		switch x.name {
		case "True":
			return 1, nil
		case "False":
			return 0, nil
		}
		v, ok := vars(x.name)
		if !ok {
			return 0, fmt.Errorf("unknown name %s", x.name)
		}
		return v, nil
	case "in":
		l, err := x.args[0].eval(vars)
		if err != nil {
			return 0, err
		}
		for _, a := range x.args[1:] {
			r, err := a.eval(vars)
			if err != nil {
				return 0, err
			}
			if l == r {
				return 1, nil
			}
		}
		return 0, nil
	}
	vals := make([]float64, len(x.args))
	for i, a := range x.args {
		// and/or short-circuit as in Python.
		if i == 1 && x.op == "and" && vals[0] == 0 {
			return 0, nil
		}
		if i == 1 && x.op == "or" && vals[0] != 0 {
			return 1, nil
		}
		v, err := a.eval(vars)
		if err != nil {
			return 0, err
		}
		vals[i] = v
	}
	switch x.op {
	case "call":
		switch x.name {
		case "abs":
			if len(vals) == 1 {
				return math.Abs(vals[0]), nil
			}
		case "int":
			if len(vals) == 1 {
				return math.Trunc(vals[0]), nil
			}
		case "float":
			if len(vals) == 1 {
				return vals[0], nil
			}
		case "min", "max":
			if len(vals) > 0 {
				m := vals[0]
				for _, v := range vals[1:] {
					if x.name == "min" {
						m = math.Min(m, v)
					} else {
						m = math.Max(m, v)
					}
				}
				return m, nil
			}
		}
		return 0, fmt.Errorf("bad call of %s", x.name)
	case "neg":
		return -vals[0], nil
	case "not":
		return b(vals[0] == 0), nil
	case "and", "or":
		return b(vals[1] != 0), nil
	case "+":
		return vals[0] + vals[1], nil
	case "-":
		return vals[0] - vals[1], nil
	case "*":
		return vals[0] * vals[1], nil
	case "/", "//", "%":
		if vals[1] == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		switch x.op {
		case "/":
			return vals[0] / vals[1], nil
		case "//":
			return math.Floor(vals[0] / vals[1]), nil
		}
		return vals[0] - vals[1]*math.Floor(vals[0]/vals[1]), nil
	case "&":
		return float64(int64(vals[0]) & int64(vals[1])), nil
	case "|":
		return float64(int64(vals[0]) | int64(vals[1])), nil
	case "==":
		return b(vals[0] == vals[1]), nil
	case "!=":
		return b(vals[0] != vals[1]), nil
	case "<":
		return b(vals[0] < vals[1]), nil
	case "<=":
		return b(vals[0] <= vals[1]), nil
	case ">":
		return b(vals[0] > vals[1]), nil
	case ">=":
		return b(vals[0] >= vals[1]), nil
	}
	return 0, fmt.Errorf("unknown operator %s", x.op)
}

// names returns every name x uses, for the failure message.
func (x *cexpr) names(out []string) []string {
	if x.op == "name" && x.name != "True" && x.name != "False" {
		for _, n := range out {
			if n == x.name {
				return out
			}
		}
		out = append(out, x.name)
	}
	for _, a := range x.args {
		out = a.names(out)
	}
	return out
}

// message returns the text of an assert's message, evaluated.
func (a *Assert) message(vars func(string) (float64, bool)) string {
	if a.Msg == nil {
		return ""
	}
	if a.Msg.op == "str" {
		return a.Msg.str
	}
	v, err := a.Msg.eval(vars)
	if err != nil {
		return err.Error()
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// code runs a code block: it snapshots the tcpi_* values of the socket
// under test and evaluates each assertion on them. Failures are kept and
// reported when the script has ended, as packetdrill reports them.
func (r *runner) code(ev *Event) error {
	if r.sut == nil || r.sut.liveFD < 0 {
		return r.errorf(ev.Line, "code block: no socket under test to read tcp_info from (accept the connection first)")
	}
	info, err := r.t.TCPInfo(r.sut.liveFD)
	if err != nil {
		return r.errorf(ev.Line, "code block: reading tcp_info: %v", err)
	}
	vars := func(name string) (float64, bool) {
		if f, ok := strings.CutPrefix(name, "tcpi_"); ok {
			v, ok := info[f]
			return float64(v), ok
		}
		v, ok := symbols[name]
		return float64(v), ok
	}
	for _, a := range ev.Code.Asserts {
		v, err := a.Cond.eval(vars)
		if err != nil {
			return r.errorf(a.Line, "code block: %s: %v", a.Text, err)
		}
		if v != 0 {
			continue
		}
		var vals []string
		for _, n := range a.Cond.names(nil) {
			if x, ok := vars(n); ok && strings.HasPrefix(n, "tcpi_") {
				vals = append(vals, n+" = "+strconv.FormatFloat(x, 'f', -1, 64))
			}
		}
		msg := "assertion failed: " + a.Text
		if len(vals) > 0 {
			msg += " (" + strings.Join(vals, ", ") + ")"
		}
		if m := a.message(vars); m != "" {
			msg += ": " + m
		}
		r.asserts = append(r.asserts, r.errorf(a.Line, "%s", msg))
	}
	return nil
}
