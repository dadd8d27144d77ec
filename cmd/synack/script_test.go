package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptCommand runs the README's example with synack script: PASS
// on virtual time, and an SVG ladder of the run.
func TestScriptCommand(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "run.svg")
	var out, errOut bytes.Buffer
	err := runScript([]string{"--svg", svg, "../../script/testdata/example.pkt"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if got, want := out.String(), "PASS ../../script/testdata/example.pkt (0.100 s of virtual time)\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("SYN_RECV")) {
		t.Errorf("ladder: %v, %d bytes", err, len(b))
	}
}

// TestScriptCommandFailure checks the report of a mismatch: the script's
// line, both segments in tcpdump form, what differs, and the exit status.
func TestScriptCommandFailure(t *testing.T) {
	src, err := os.ReadFile("../../script/testdata/example.pkt")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pkt")
	os.WriteFile(bad, bytes.Replace(src, []byte("> P. 1:1001(1000) ack 1 "), []byte("> P. 1:1001(1000) ack 2 "), 1), 0o644)
	var out, errOut bytes.Buffer
	err = runScript([]string{bad}, &out, &errOut)
	if !errors.Is(err, errScriptsFailed) {
		t.Fatalf("err = %v; want errScriptsFailed", err)
	}
	for _, want := range []string{bad + ":10: expected IP 192.168.0.1.8080 > ", "Flags [P.], seq 1:1001, ack 2,",
		"\n  got      IP 192.168.0.1.8080 > ", "ack 1, win", "ack: expected 2, got 1", "FAIL " + bad} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestScriptCommandOptions checks the dialect's options on the command
// line and the flags' errors.
func TestScriptCommandOptions(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runScript([]string{"--tolerance_usecs=1000", "-v", "../../script/testdata/example.pkt"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if err := runScript([]string{"--no_such_option=1", "../../script/testdata/example.pkt"}, &out, &errOut); err == nil ||
		!strings.Contains(out.String(), "unknown option --no_such_option") {
		t.Errorf("an unknown dialect option: %v\n%s", err, out.String())
	}
	if err := runScript([]string{"--against", "bsd", "x.pkt"}, &out, &errOut); err == nil {
		t.Error("--against bsd accepted")
	}
	if err := runScript(nil, &out, &errOut); err == nil {
		t.Error("no script accepted")
	}
}
