package script

import (
	"strconv"
)

// parseCall parses name(args) = RESULT [ERRNO] [(note)]; name is consumed.
func (p *parser) parseCall(name token) (*Call, error) {
	c := &Call{Name: name.text}
	if _, err := p.expect("(", "'(' after the system call name "+name.text); err != nil {
		return nil, err
	}
	args, err := p.parseExprs(")")
	if err != nil {
		return nil, err
	}
	c.Args = args
	if _, err := p.expect("=", "'= RESULT' after "+name.text+"(...)"); err != nil {
		return nil, err
	}
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tokInt:
		v, err := parseInt(t)
		if err != nil {
			return nil, p.errorf(t.line, "%v", err)
		}
		c.Result = &Expr{Kind: ExprInt, Line: t.line, Int: v}
	case tokEllipsis:
		c.Result = &Expr{Kind: ExprEllipsis, Line: t.line}
	default:
		return nil, p.errorf(t.line, "expected the result of %s (an integer), got %s", name.text, t)
	}
	if t, err = p.peek(); err != nil {
		return nil, err
	}
	if t.kind == tokWord {
		p.next()
		if _, ok := errnos[t.text]; !ok {
			return nil, p.errorf(t.line, "unknown errno %s", t.text)
		}
		c.Errno = t.text
		if t, err = p.peek(); err != nil {
			return nil, err
		}
		if !t.is("(") {
			return nil, p.errorf(t.line, "errno %s must be followed by a note in parentheses, such as (%s)", c.Errno, errnoText(c.Errno))
		}
	}
	if t.is("(") {
		p.next()
		if c.Note, err = p.lx.rawParen(t.line); err != nil {
			return nil, err
		}
	}
	if c.Errno != "" && (c.Result.Kind != ExprInt || c.Result.Int != -1) {
		return nil, p.errorf(name.line, "an errno goes with the result -1")
	}
	return c, nil
}

// parseExprs parses a comma-separated list of expressions up to closer,
// which it consumes.
func (p *parser) parseExprs(closer string) ([]*Expr, error) {
	var list []*Expr
	if ok, err := p.accept(closer); err != nil || ok {
		return list, err
	}
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.is(closer) {
			return list, nil
		}
		if !t.is(",") {
			return nil, p.errorf(t.line, "expected ',' or '%s' in the arguments, got %s", closer, t)
		}
	}
}

// parseExpr parses A|B|C.
func (p *parser) parseExpr() (*Expr, error) {
	e, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		ok, err := p.accept("|")
		if err != nil {
			return nil, err
		}
		if !ok {
			return e, nil
		}
		r, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if e.Kind != ExprOr {
			e = &Expr{Kind: ExprOr, Line: e.Line, Elems: []*Expr{e}}
		}
		e.Elems = append(e.Elems, r)
	}
}

// parsePrimary parses one operand: a number, a symbol, ..., a string, an
// address, [list], {struct}, name(args), and name=value inside structs.
func (p *parser) parsePrimary() (*Expr, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	e := &Expr{Line: t.line}
	switch t.kind {
	case tokInt:
		v, err := parseInt(t)
		if err != nil {
			return nil, p.errorf(t.line, "%v", err)
		}
		e.Kind, e.Int = ExprInt, v
	case tokFloat:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errorf(t.line, "bad number %s", t.text)
		}
		e.Kind, e.Float = ExprFloat, v
	case tokString:
		e.Kind, e.Str = ExprString, t.text
	case tokIPv4:
		e.Kind, e.Str = ExprIP, t.text
	case tokEllipsis:
		e.Kind = ExprEllipsis
	case tokPunct:
		switch t.text {
		case "[":
			e.Kind = ExprList
			if e.Elems, err = p.parseExprs("]"); err != nil {
				return nil, err
			}
		case "{":
			e.Kind = ExprStruct
			if e.Elems, err = p.parseExprs("}"); err != nil {
				return nil, err
			}
		default:
			return nil, p.errorf(t.line, "unexpected %s in the arguments", t)
		}
	case tokWord:
		e.Kind, e.Sym = ExprSymbol, t.text
		nt, err := p.peek()
		if err != nil {
			return nil, err
		}
		if nt.is("(") {
			p.next()
			args, err := p.parseExprs(")")
			if err != nil {
				return nil, err
			}
			e = &Expr{Kind: ExprCall, Line: t.line, Name: t.text, Elems: args}
			if nt, err = p.peek(); err != nil {
				return nil, err
			}
		}
		if nt.is("=") {
			p.next()
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			f := &Expr{Kind: ExprField, Line: t.line, Name: t.text, Elems: []*Expr{v}}
			if e.Kind == ExprCall {
				// msg_iov(2)=[...]: keep the count.
				f.Elems = append(f.Elems, e)
			}
			return f, nil
		}
	default:
		return nil, p.errorf(t.line, "unexpected %s in the arguments", t)
	}
	return e, nil
}
