package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// prefixList is a flag.Value collecting addresses with prefixes: the flag
// may repeat, and each value may list several, comma-separated
// ("10.77.0.2/24,fd77::2/64").
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *prefixList) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("want an address with its prefix length, such as 10.77.0.2/24")
		}
		*l = append(*l, p)
	}
	return nil
}

// byteSize is a flag.Value for a size in bytes with an optional k or m
// suffix (powers of 1024).
type byteSize int

func (b *byteSize) String() string { return strconv.Itoa(int(*b)) }

func (b *byteSize) Set(v string) error {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<30/mult {
		return fmt.Errorf("want bytes such as 262144 or 256k")
	}
	*b = byteSize(n * mult)
	return nil
}

// parseArgs parses args with fs, allowing flags after positional arguments
// ("get URL --tun t0"), which the flag package alone stops at. It returns
// the positional arguments; "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// errHelp is what a command returns after printing its --help: main
// exits 0.
var errHelp = errors.New("help printed")

// flagSet is a command's flags with its help text. Parse errors are
// returned as one line, never printed with the whole usage; --help prints
// the usage to stdout.
type flagSet struct {
	*flag.FlagSet
	usage  string
	stdout io.Writer
}

// newFlagSet returns the flags of `synack name`, whose --help prints usage
// and then the flags' defaults to stdout.
func newFlagSet(name, usage string, stdout io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), usage: usage, stdout: stdout}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printHelp writes the usage and the flags to stdout.
func (fs *flagSet) printHelp() {
	fmt.Fprint(fs.stdout, fs.usage, "\nflags:\n")
	fs.SetOutput(fs.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseFlags parses args (flags may follow positional arguments) and
// returns the positional ones; after --help it returns errHelp, and for a
// bad flag one line that says what is wrong and where to look.
func parseFlags(fs *flagSet, args []string) ([]string, error) {
	pos, err := parseArgs(fs.FlagSet, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.printHelp()
		return nil, errHelp
	}
	if err != nil {
		return nil, usageError(fs, fs.Name()+": "+err.Error())
	}
	return pos, nil
}

// usageError returns msg with a pointer to the command's help.
func usageError(fs *flagSet, msg string) error {
	return fmt.Errorf("%s (synack %s --help shows every flag)", msg, fs.Name())
}
