package script

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sysctl is one kernel setting an init command makes, such as
// net.ipv4.tcp_sack=0.
type Sysctl struct {
	// Name is the dotted name (net.ipv4.tcp_sack).
	Name string
	// Value is the value, blanks between fields (the three numbers of
	// tcp_rmem) reduced to one space.
	Value string
	// Where says where it was read: "file:line".
	Where string
}

// Setup is what the init command of a script does, read without running
// it: the sysctls it sets, and every other command, which the runner
// ignores unless told to execute the command.
type Setup struct {
	Sysctls []Sysctl
	// Ignored lists the commands that are not sysctl settings, with where
	// they were read.
	Ignored []string
}

// ReadSetup reads the sysctls an init command sets: "sysctl [-q] [-w]
// name=value ...", "echo V > /proc/sys/a/b/c", and shell files the command
// runs (a word ending in .sh, found relative to dir), recursively. Nothing
// is executed.
func ReadSetup(cmd *Command, file, dir string) (*Setup, error) {
	st := &Setup{}
	if cmd == nil {
		return st, nil
	}
	return st, st.read(cmd.Text, file, cmd.Line, dir, 0)
}

func (st *Setup) read(text, file string, line int, dir string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("%s:%d: shell files nest too deep", file, line)
	}
	for i, l := range strings.Split(text, "\n") {
		where := fmt.Sprintf("%s:%d", file, line+i)
		for _, cmd := range splitShell(l) {
			if err := st.command(cmd, where, dir, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitShell splits one line into simple commands at ; && || (outside
// quotes) and drops a # comment.
func splitShell(line string) []string {
	var out []string
	start, quote := 0, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			out = append(out, line[start:i])
			start = len(line)
			i = len(line)
		case c == ';':
			out = append(out, line[start:i])
			start = i + 1
		case (c == '&' || c == '|') && i+1 < len(line) && line[i+1] == c:
			out = append(out, line[start:i])
			start = i + 2
			i++
		}
	}
	if start < len(line) {
		out = append(out, line[start:])
	}
	var cmds []string
	for _, c := range out {
		if c = strings.TrimSpace(c); c != "" {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// shellWords splits a command into words, removing quotes.
func shellWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

func (st *Setup) command(cmd, where, dir string, depth int) error {
	w := shellWords(cmd)
	if len(w) == 0 {
		return nil
	}
	switch {
	case w[0] == "sysctl":
		got := false
		for _, a := range w[1:] {
			if strings.HasPrefix(a, "-") {
				continue
			}
			name, val, ok := strings.Cut(a, "=")
			if !ok {
				st.Ignored = append(st.Ignored, where+": "+cmd)
				continue
			}
			st.add(name, val, where)
			got = true
		}
		if !got {
			st.Ignored = append(st.Ignored, where+": "+cmd)
		}
		return nil
	case w[0] == "echo" && len(w) >= 4 && w[len(w)-2] == ">" && strings.HasPrefix(w[len(w)-1], "/proc/sys/"):
		name := strings.ReplaceAll(strings.TrimPrefix(w[len(w)-1], "/proc/sys/"), "/", ".")
		st.add(name, strings.Join(w[1:len(w)-2], " "), where)
		return nil
	case strings.HasSuffix(w[0], ".sh") || (w[0] == "sh" || w[0] == "bash") && len(w) > 1 && strings.HasSuffix(w[1], ".sh"):
		f := w[0]
		if !strings.HasSuffix(f, ".sh") {
			f = w[1]
		}
		path := f
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, f)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: reading the shell file the init command runs: %v", where, err)
		}
		return st.read(string(b), path, 1, filepath.Dir(path), depth+1)
	}
	st.Ignored = append(st.Ignored, where+": "+cmd)
	return nil
}

func (st *Setup) add(name, val, where string) {
	name = strings.ReplaceAll(strings.TrimPrefix(name, "/proc/sys/"), "/", ".")
	val = strings.Join(strings.Fields(val), " ")
	for i := range st.Sysctls {
		if st.Sysctls[i].Name == name {
			st.Sysctls[i].Value, st.Sysctls[i].Where = val, where
			return
		}
	}
	st.Sysctls = append(st.Sysctls, Sysctl{Name: name, Value: val, Where: where})
}

// Get returns the value the setup gives a sysctl (its last setting).
func (st *Setup) Get(name string) (string, bool) {
	for _, s := range st.Sysctls {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}
