package script

import (
	"fmt"
	"time"
)

// Script is a parsed script: its option lines, init and cleanup commands,
// events in order, and the synack headers of its comments.
type Script struct {
	// File is the name the script was parsed under, used in errors.
	File string
	// Options are the --name[=value] lines at the top, in order.
	Options []OptionLine
	// Init is the backquoted command before the first event, if any.
	Init *Command
	// Events are the timed lines.
	Events []*Event
	// Cleanup is the backquoted command after the last event, if any.
	Cleanup *Command
	// Expect lists the "// synack:" headers: differences from Linux that
	// make a run against synack fail at a known line.
	Expect []Expectation
}

// OptionLine is one --name or --name=value line.
type OptionLine struct {
	Line  int
	Name  string
	Value string
	Set   bool // a value was given (--name=value)
}

// Command is a backquoted shell command.
type Command struct {
	Line int
	Text string
}

// TimeKind says how an event's time is written.
type TimeKind uint8

// The forms of an event time.
const (
	TimeAbsolute TimeKind = iota // 2.5: seconds from the start of the script
	TimeRelative                 // +0.1: after the previous event finished
	TimeAny                      // *: any time (outbound packets only)
)

// EventTime is when an event happens: a time, or a window Start~End, or
// for a blocking call Start...End (the call starts at Start and returns at
// End).
type EventTime struct {
	Kind  TimeKind
	Start time.Duration
	// Range is set for Start~End: the event may happen anywhere in the
	// window. EndKind says whether End is absolute or relative.
	Range   bool
	End     time.Duration
	EndKind TimeKind
	// Block is set for Start...End: a system call that may block, and must
	// return at End. End is absolute when Start is, else it counts from the
	// same anchor as Start.
	Block bool
}

// Event is one timed line: exactly one of its action fields is set.
type Event struct {
	Line    int
	Time    EventTime
	Packet  *Packet
	Call    *Call
	Command *Command
	Code    *Code
}

// Direction says who sends a packet.
type Direction uint8

// Packet directions.
const (
	Inbound  Direction = iota // '<': the script sends it to the stack
	Outbound                  // '>': the stack must send it
)

// Proto is the protocol of a packet line.
type Proto uint8

// Packet protocols.
const (
	ProtoTCP Proto = iota
	ProtoUDP
	ProtoICMP
)

// ECN codepoints of an IP info: RFC 3168 §5.
const (
	ECNNone  = -1 // not given
	ECNNotCT = 0
	ECNECT1  = 1
	ECNECT0  = 2
	ECNCE    = 3
	ECNECT01 = 4 // outbound: either ECT codepoint
)

// Packet is a packet line.
type Packet struct {
	Dir   Direction
	Proto Proto

	// IP info: ECN is one of the ECN constants; TOS, TTL and FlowLabel are
	// -1 when not given.
	ECN       int
	TOS       int
	TTL       int
	FlowLabel int

	// SrcPort and DstPort override the configured ports when non-zero.
	SrcPort, DstPort uint16

	// Flags are the TCP control bits; AE is the accurate-ECN bit (RFC
	// 9768, the former NS); ACE, when HasACE, replaces AE, CWR and ECE
	// with a 3-bit counter.
	Flags  uint8
	AE     bool
	HasACE bool
	ACE    uint8

	// Seq is START of START:END(LEN); Len is LEN (SYN and FIN excluded).
	Seq uint32
	Len int

	Ack    uint32
	HasAck bool
	Win    uint16
	HasWin bool
	Urg    uint16

	// Options are the TCP options in the written order; AnyOptions is
	// <...>: options (and header length) are not checked.
	Options    []Option
	AnyOptions bool

	// ICMP: type and code names, the MTU of a fragmentation-needed
	// message, and the quoted TCP segment (its seq and length).
	ICMPType, ICMPCode string
	MTU                int
	HasQuote           bool
	QuoteSeq           uint32
	QuoteLen           int
	QuoteUDP           bool
}

// OptKind is a TCP option kind as a script writes it.
type OptKind uint8

// The TCP options a script can write.
const (
	OptNOP OptKind = iota
	OptEOL
	OptMSS
	OptWScale
	OptSACKOK
	OptSACK
	OptTS
	OptMD5
	OptFO    // TCP Fast Open cookie, kind 34 (RFC 7413)
	OptFOExp // experimental Fast Open, kind 254 with magic 0xF989
	OptECN   // AccECN option, kind 172 (order 0) or 174 (order 1)
	OptGeneric
)

// Option is one TCP option of a packet line.
type Option struct {
	Kind   OptKind
	MSS    uint16
	WScale uint8
	SACK   [][2]uint32
	TSVal  uint32
	TSEcr  uint32
	// Data holds the bytes of md5, FO and experimental options.
	Data []byte
	// ECN: the order (0: e0b first, 1: e1b first) and up to three byte
	// counters, in the written order.
	ECNOrder int
	ECNVals  []uint32
	// Raw kind for OptGeneric.
	RawKind byte
}

// Call is a system call line: name(args) = Result [Errno (Note)].
type Call struct {
	Name   string
	Args   []*Expr
	Result *Expr // an integer, or ... meaning any
	Errno  string
	Note   string
}

// ExprKind is the kind of a system call argument.
type ExprKind uint8

// The kinds of argument expression.
const (
	ExprInt      ExprKind = iota // 5, -1, 0x2
	ExprSymbol                   // SOL_TCP (Sym)
	ExprOr                       // A|B|C (Elems)
	ExprEllipsis                 // ...
	ExprString                   // "reno"
	ExprList                     // [a, b] (Elems): a pointer to an int, an array
	ExprStruct                   // {a=1, b} (Elems, with Name for fields)
	ExprCall                     // htons(8080) or msg_iov(2) (Name, Elems)
	ExprField                    // name=value inside a struct (Name, Elems[0]); Elems[1] the optional (n)
	ExprFloat                    // 0.5
	ExprIP                       // 192.0.2.1
)

// Expr is a system call argument.
type Expr struct {
	Kind  ExprKind
	Line  int
	Int   int64
	Float float64
	Sym   string
	Str   string
	Name  string
	Elems []*Expr
}

func (e *Expr) String() string {
	switch e.Kind {
	case ExprInt:
		return fmt.Sprint(e.Int)
	case ExprFloat:
		return fmt.Sprint(e.Float)
	case ExprSymbol:
		return e.Sym
	case ExprEllipsis:
		return "..."
	case ExprString:
		return fmt.Sprintf("%q", e.Str)
	case ExprIP:
		return e.Str
	case ExprOr:
		s := ""
		for i, x := range e.Elems {
			if i > 0 {
				s += "|"
			}
			s += x.String()
		}
		return s
	case ExprList, ExprStruct:
		open, close := "[", "]"
		if e.Kind == ExprStruct {
			open, close = "{", "}"
		}
		s := open
		for i, x := range e.Elems {
			if i > 0 {
				s += ", "
			}
			s += x.String()
		}
		return s + close
	case ExprCall:
		s := e.Name + "("
		for i, x := range e.Elems {
			if i > 0 {
				s += ", "
			}
			s += x.String()
		}
		return s + ")"
	case ExprField:
		return e.Name + "=" + e.Elems[0].String()
	}
	return "?"
}

// Code is a %{ }% block: the assertions it holds, checked on tcpi_* values
// snapshot at its time.
type Code struct {
	Text    string
	Asserts []*Assert
}

// Expectation is a "// synack: known-difference ISSUE: why" header: on a
// run against synack the script must fail at Line (the line the
// difference shows on). When synack is fixed the run passes, and the test
// reports the unexpected pass so that the header is removed.
type Expectation struct {
	// HeaderLine is where the header is written; Line is the event line it
	// names, FailLine in "fail at line N" (0: any line).
	HeaderLine int
	Line       int
	// Kind is "known-difference" (a synack bug, to fix) or "choice" (a
	// documented, deliberate departure from Linux).
	Kind string
	// Issue names where the difference is tracked, such as "issue-12".
	Issue string
	Why   string
}
