//go:build unix

package activation_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNamedListenersKeepFDOrder(t *testing.T) {
	var files []passed
	names := []string{"web", "admin", "web", "metrics", "alpha"}
	for range names {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		files = append(files, p)
	}
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(append(files, dns)...),
		env:      append(activated(6, append(names, "dns")...), "ACTIVATION_TEST_CALLS=NamedListeners,NamedListeners"),
	})
	var want []string
	for i, p := range files {
		want = append(want, names[i]+"="+p.desc)
	}
	diff(t, "calls", []callResult{{Call: "NamedListeners", Items: want}, {Call: "NamedListeners"}}, r.Calls)
	diff(t, "problems serving each NamedListener as a net.Listener", []string(nil), r.Serve)
}

func TestTLSListenersWithNamesWrapsEveryListener(t *testing.T) {
	web, wl := tcpListener(t, "tcp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", filepath.Join(t.TempDir(), "s"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(web, sock),
		env:      append(activated(2, "web", "sock"), "ACTIVATION_TEST_CALLS=TLSListenersWithNames nil,TLSListenersWithNames,TLSListenersWithNames"),
	})
	diff(t, "calls", []callResult{
		{Call: "TLSListenersWithNames nil", Err: "activation: TLSListenersWithNames needs a tls.Config, got nil"},
		{Call: "TLSListenersWithNames", Items: []string{
			"sock=*tls.listener unix " + strings.Fields(sock.desc)[2],
			"web=*tls.listener tcp " + wl.Addr().String(),
		}},
		{Call: "TLSListenersWithNames"},
	}, r.Calls)
}

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
		env:      []string{"ACTIVATION_TEST_CALLS=StdinInfo,StdinListener,StdinConn,StdinConn", reportEnv + "=" + filepath.Join(t.TempDir(), "report")},
	})
	cmd.Stdin, cmd.Stdout = child, child
	r := runCmd(t, "calls", cmd)
	diff(t, "calls", []callResult{
		{Call: "StdinInfo", Items: []string{`fd 0 "stdin": unix connection on (unnamed) from (unnamed)`}},
		{Call: "StdinListener", Err: `activation: standard input is not a listener: fd 0 "stdin": unix connection on (unnamed) from (unnamed)`},
		{Call: "StdinConn", Items: []string{"*net.UnixConn unix @"}},
		{Call: "StdinConn", Err: "activation: standard input was taken already"},
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
		calls []string
		want  []callResult
	}{
		{"a listener, by StdinListener", web.file, []string{"StdinPacketConn", "StdinListener"}, []callResult{
			{Err: `activation: standard input is not a datagram socket: fd 0 "stdin": tcp listener on ` + wl.Addr().String()},
			{Items: []string{web.desc}},
		}},
		{"a listener, by Listen fd:0", web.file, []string{"Listen tcp fd:0", "Listen tcp fd:0"}, []callResult{
			{Items: []string{web.desc}},
			{Err: "activation: standard input was taken already"},
		}},
		{"a datagram socket, by ListenPacket fd:0", dns.file, []string{"Listen tcp fd:0", "ListenPacket udp fd:0"}, []callResult{
			{Err: `activation: standard input is not a listener: fd 0 "stdin": udp socket on ` + strings.Fields(dns.desc)[2]},
			{Items: []string{dns.desc}},
		}},
		{"not a socket", devnull, []string{"StdinConn", "StdinInfo"}, []callResult{
			{Err: `activation: standard input is not a connection: fd 0 "stdin": character device`},
			{Items: []string{`fd 0 "stdin": character device`}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, childProc{
				scenario: "calls",
				env:      []string{"ACTIVATION_TEST_CALLS=" + strings.Join(tt.calls, ",")},
				stdin:    tt.stdin,
			})
			for i := range tt.want {
				tt.want[i].Call = tt.calls[i]
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
