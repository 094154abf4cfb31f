//go:build unix

package activation_test

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-activation/activation"
	"golang.org/x/sys/unix"
)

// stdinSocketPair returns one end of a socket pair of type typ, to be a
// child's standard input, and the other end.
func stdinSocketPair(t *testing.T, typ int) (child, peer *os.File) {
	t.Helper()
	fds, err := socketpair(typ)
	if err != nil {
		t.Fatal(err)
	}
	child, peer = os.NewFile(uintptr(fds[0]), "child"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { child.Close(); peer.Close() })
	return child, peer
}

// A connected socket on standard input and standard output, as inetd and
// StandardInput=socket pass it: StdinConn takes it, and once the child
// closes the connection the peer sees the end, so neither fd 0 nor fd 1
// holds it any more.
func TestStdinConnTakesTheConnectionOnStandardInputAndOutput(t *testing.T) {
	child, peer := stdinSocketPair(t, unix.SOCK_STREAM)
	cmd := childCommand(childProc{
		scenario: "calls",
		env:      []string{reportEnv + "=" + filepath.Join(t.TempDir(), "report")},
		calls:    []call{stdinInfoCall(), stdinListenerCall(), stdinConnCall(), stdinConnCall(), stdinInfoCall()},
	})
	cmd.Stdin, cmd.Stdout = child, child
	r := runCmd(t, "calls", cmd)
	diff(t, "calls", []callResult{
		{Call: "StdinInfo", Items: []string{`fd 0 "stdin": unix connection on (unnamed) from (unnamed)`}},
		{Call: "StdinListener", Err: `activation: standard input is not a listener: fd 0 "stdin": unix connection on (unnamed) from (unnamed)`},
		{Call: "StdinConn", Items: []string{"*net.UnixConn unix @"}},
		{Call: "StdinConn", Err: "activation: standard input was taken already"},
		{Call: "StdinInfo", Items: []string{`fd 0 "stdin": character device, claimed`}},
	}, r.Calls)
	diff(t, "problems using the values", []string(nil), r.Serve)
	diff(t, "what fds 0 and 1 name once the connection is taken", []string{"/dev/null", "/dev/null"}, r.Stdio)
	child.Close()
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	if string(got) != "hello from the child" || err != nil {
		t.Errorf("the peer read %q, %v; want the child's greeting, then the end of the connection", got, err)
	}
}

func TestStdinListenerAndPacketConnTakeTheirKind(t *testing.T) {
	web, wl := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	for _, tt := range []struct {
		name  string
		stdin *os.File
		calls []call
		want  []callResult
	}{
		{"a listener, by StdinListener", web.file, []call{stdinPacketConnCall(), stdinListenerCall()}, []callResult{
			{Err: `activation: standard input is not a datagram socket: fd 0 "stdin": tcp listener on ` + wl.Addr().String()},
			{Items: []string{web.desc}},
		}},
		{"a listener, by Listen fd:0", web.file, []call{listenCall("tcp", "fd:0"), listenCall("tcp", "fd:0")}, []callResult{
			{Items: []string{web.desc}},
			{Err: "listen tcp fd:0: activation: standard input was taken already"},
		}},
		{"a datagram socket, by ListenPacket fd:0", dns.file, []call{listenCall("tcp", "fd:0"), listenPacketCall("udp", "fd:0")}, []callResult{
			{Err: `listen tcp fd:0: activation: standard input is not a listener: fd 0 "stdin": udp socket on ` + strings.Fields(dns.desc)[2]},
			{Items: []string{dns.desc}},
		}},
		{"not a socket", devnull, []call{stdinConnCall(), stdinInfoCall()}, []callResult{
			{Err: `activation: standard input is not a connection: fd 0 "stdin": character device`},
			{Items: []string{`fd 0 "stdin": character device`}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, childProc{
				scenario: "calls",
				calls:    tt.calls,
				stdin:    tt.stdin,
			})
			for i := range tt.want {
				tt.want[i].Call = tt.calls[i].String()
			}
			diff(t, "calls", tt.want, r.Calls)
			diff(t, "problems using the values", []string(nil), r.Serve)
			if len(r.Stdio) != 2 || strings.HasPrefix(r.Stdio[1], "/dev/null") {
				t.Errorf("fds 0 and 1 name %q; standard output, not the socket, must stay", r.Stdio)
			}
			if taken := tt.stdin != devnull; taken && r.Stdio[0] != "/dev/null" {
				t.Errorf("fd 0 names %q once the socket is taken, want /dev/null", r.Stdio[0])
			}
		})
	}
}

func init() {
	scenarios["stdin-close"] = childStdinClose
}

// childStdinClose takes the connection on standard input, writes a
// greeting, closes the connection, and then runs on until fd 3, a pipe
// from the parent, reaches its end.
func childStdinClose(r *report) {
	c, err := activation.StdinConn()
	if err != nil {
		r.problem("StdinConn: %v", err)
		return
	}
	if _, err := io.WriteString(c, "hello from the child"); err != nil {
		r.problem("write: %v", err)
	}
	if err := c.Close(); err != nil {
		r.problem("close: %v", err)
	}
	io.Copy(io.Discard, os.NewFile(3, "parent"))
}

// With StandardInput=socket, systemd makes standard output and standard
// error the socket too: StandardOutput= and StandardError= default to
// inherit, which for a socket on standard input means that socket. Once
// StdinConn has taken the connection, the returned value alone holds the
// socket, so closing it ends the connection while the process runs on.
func TestStdinConnAloneHoldsTheSocketWhenStandardErrorIsItToo(t *testing.T) {
	child, peerFile := stdinSocketPair(t, unix.SOCK_STREAM)
	peer, err := net.FileConn(peerFile) // pollable, so that deadlines work
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	running, stop, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stop.Close()
	reportFile := filepath.Join(t.TempDir(), "report")
	cmd := childCommand(childProc{files: []*os.File{running}, env: []string{reportEnv + "=" + reportFile}})
	cmd.Env = append(cmd.Env, childEnv+"=stdin-close", "GORACE=atexit_sleep_ms=0")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = child, child, child
	err = cmd.Start()
	running.Close()
	child.Close() // the child's copies alone hold its end
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		stop.Close() // the child exits
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("child: %v", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the child still runs 20s after its pipe was closed")
			return
		}
		var r report
		if b, err := os.ReadFile(reportFile); err != nil || json.Unmarshal(b, &r) != nil {
			t.Errorf("the child's report: %q, %v", b, err)
		}
		diff(t, "problems", []string(nil), r.Problems)
	}()
	// The child runs until stop is closed: the end of the connection can
	// only come from its closing the value StdinConn returned.
	if err := peer.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(peer)
	if string(got) != "hello from the child" || err != nil {
		t.Errorf("the peer read %q, %v; want the child's greeting, then the end of the connection while the child runs (fds 1 and 2, the socket too, must not hold it)", got, err)
	}
}
