//go:build unix

package activation_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

func TestListenTakesWhatTheAddressNames(t *testing.T) {
	dir := filepath.Dir(activationtest.SocketPath(t, "sock"))
	web, webL := tcpListener(t, "tcp4", "127.0.0.1:0")
	api, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	sock := unixListener(t, "unix", filepath.Join(dir, "sock"))
	dup0, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	dup1, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	files := filesOf(web, api, dns, sock, dup0, dup1)
	env := activated(6, "web", "api", "dns", "sock", "dup", "dup")
	webPort := webL.Addr().(*net.TCPAddr).Port
	inherited := `inherited: fd 3 "web": tcp listener on ` + webL.Addr().String()

	tests := []struct {
		name  string
		calls []call
		want  []callResult
	}{
		{"sd-listen:NAME takes the listener of that name", []call{listenCall("tcp", "sd-listen:web")},
			[]callResult{{Items: []string{web.desc}}}},
		{"sd-listen:NAME:I takes the I-th fd of that name", []call{listenCall("tcp", "sd-listen:dup:1"), listenCall("tcp", "sd-listen:dup:0")},
			[]callResult{{Items: []string{dup1.desc}}, {Items: []string{dup0.desc}}}},
		{"sd-listen:NAME with several of that name asks for an index", []call{listenCall("tcp", "sd-listen:dup")},
			[]callResult{{Err: `listen tcp sd-listen:dup: activation: 2 unclaimed listeners are named "dup"; choose one with sd-listen:dup:INDEX; ` + inherited}}},
		{"sd-listen alone with several listeners asks for a name", []call{listenCall("tcp", "sd-listen")},
			[]callResult{{Err: "listen tcp sd-listen: activation: 5 unclaimed listeners were inherited; choose one with sd-listen:NAME; " + inherited}}},
		{"a name taken twice fails the second time", []call{listenCall("tcp", "sd-listen:web"), listenCall("tcp", "sd-listen:web")},
			[]callResult{{Items: []string{web.desc}}, {Err: `listen tcp sd-listen:web: activation: no unclaimed listener is named "web"; ` + inherited + ", claimed"}}},
		{"fd:N takes that fd", []call{listenCall("tcp", "fd:4")},
			[]callResult{{Items: []string{api.desc}}}},
		{"fd:N of a datagram socket is not a listener", []call{listenCall("tcp", "fd:5")},
			[]callResult{{Err: `listen tcp fd:5: activation: fd 5 ("dns") is not a listener; ` + inherited}}},
		{"fd:N of an fd not passed says so", []call{listenCall("tcp", "fd:42")},
			[]callResult{{Err: `listen tcp fd:42: activation: fd 42 was not inherited; ` + inherited}}},
		{"an index beyond the fds of that name says how many there are", []call{listenCall("tcp", "sd-listen:dup:2")},
			[]callResult{{Err: `listen tcp sd-listen:dup:2: activation: asked for fd 2 named "dup", but 2 fds have that name; ` + inherited}}},
		{"the address an inherited socket is bound to takes it", []call{listenCall("tcp", "127.0.0.1:"+strconv.Itoa(webPort))},
			[]callResult{{Items: []string{web.desc}}}},
		{"a tcp6 address does not take an IPv4 socket", []call{listenCall("tcp6", "127.0.0.1:"+strconv.Itoa(webPort))},
			[]callResult{{Err: "listen tcp6: address 127.0.0.1: no suitable address found"}}},
		{"a unix path an inherited socket is bound to takes it", []call{listenCall("unix", filepath.Join(dir, ".", "sock"))},
			[]callResult{{Items: []string{sock.desc}}}},
		{"ListenPacket takes a datagram socket by name", []call{listenPacketCall("udp", "sd-listen:dns")},
			[]callResult{{Items: []string{dns.desc}}}},
		{"ListenPacket refuses a listener", []call{listenPacketCall("udp", "sd-listen:web")},
			[]callResult{{Err: `listen udp sd-listen:web: activation: no unclaimed datagram socket is named "web"; ` + inherited}}},
		{"an unknown network is refused", []call{listenCall("udp", "sd-listen:web")},
			[]callResult{{Err: "listen udp: unknown network udp"}}},
		{"a malformed fd number is refused", []call{listenCall("tcp", "fd:x")},
			[]callResult{{Err: `listen tcp fd:x: activation: "x" is not a file descriptor number; ` + inherited}}},
		{"a negative fd number is refused", []call{listenCall("tcp", "fd:-1")},
			[]callResult{{Err: `listen tcp fd:-1: activation: "-1" is not a file descriptor number; ` + inherited}}},
		{"a missing fd number is refused", []call{listenCall("tcp", "fd:")},
			[]callResult{{Err: `listen tcp fd:: activation: "" is not a file descriptor number; ` + inherited}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, childProc{scenario: "calls", files: files, env: env, calls: tt.calls})
			for i := range tt.want {
				tt.want[i].Call = tt.calls[i].String()
			}
			got := r.Calls
			for i := range got {
				// An error from net.Listen carries an errno text: compare its start.
				if w := tt.want[i].Err; w != "" && strings.HasPrefix(got[i].Err, w) {
					got[i].Err = w
				}
			}
			diff(t, "calls", tt.want, got)
			diff(t, "problems using the values", []string(nil), r.Serve)
		})
	}
}

func TestListenWithoutActivationFallsBack(t *testing.T) {
	r := run(t, childProc{scenario: "calls", calls: []call{listenCall("tcp", "127.0.0.1:0"), listenCall("tcp", "sd-listen:web"), listenPacketCall("udp", "[::1]:0"), listenersCall()}})
	if len(r.Calls) != 4 {
		t.Fatalf("calls: %+v", r.Calls)
	}
	if c := r.Calls[0]; c.Err != "" || len(c.Items) != 1 || !strings.HasPrefix(c.Items[0], "*net.TCPListener tcp 127.0.0.1:") {
		t.Errorf("Listen tcp 127.0.0.1:0 = %+v, want a listener of its own", c)
	}
	diff(t, "sd-listen without activation", callResult{Call: "Listen tcp sd-listen:web", Err: "listen tcp sd-listen:web: activation: nothing was inherited"}, r.Calls[1])
	if c := r.Calls[2]; c.Err != "" || len(c.Items) != 1 || !strings.HasPrefix(c.Items[0], "*net.UDPConn udp [::1]:") {
		t.Errorf("ListenPacket udp [::1]:0 = %+v, want a socket of its own", c)
	}
	diff(t, "Listeners without activation", callResult{Call: "Listeners"}, r.Calls[3])
	diff(t, "problems using the values", []string(nil), r.Serve)
}

// Listen("tcp", "0.0.0.0:P") takes a dual-stack [::]:P socket, which
// systemd's ListenStream=P makes and which a bind of 0.0.0.0:P would
// collide with; not an IPv6-only one.
func TestListenOnIPv4WildcardTakesADualStackSocket(t *testing.T) {
	dual, dl := tcpListener(t, "tcp", "[::]:0")
	only, ol := tcpListener(t, "tcp6", "[::]:0") // Go makes tcp6 wildcard sockets IPv6-only
	dualPort, onlyPort := dl.Addr().(*net.TCPAddr).Port, ol.Addr().(*net.TCPAddr).Port
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(dual, only),
		env:      activated(2, "dual", "only"),
		calls: []call{listenCall("tcp4", fmt.Sprintf("0.0.0.0:%d", dualPort)), listenCall("tcp", fmt.Sprintf("0.0.0.0:%d", dualPort)),
			listenCall("tcp", fmt.Sprintf("0.0.0.0:%d", onlyPort))},
	})
	if c := r.Calls[0]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use: tcp4 does not take an IPv6 socket", c.Call, c.Items, c.Err)
	}
	diff(t, "Listen tcp 0.0.0.0:PORT of the dual-stack socket", callResult{Call: r.Calls[1].Call, Items: []string{dual.desc}}, r.Calls[1])
	// net.Listen("tcp", "0.0.0.0:P") binds a dual-stack [::]:P, which
	// collides with the IPv6-only socket; that one serves no IPv4, so it
	// is not taken either.
	if c := r.Calls[2]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use, not the IPv6-only socket", c.Call, c.Items, c.Err)
	}
	if len(r.Inherited) != 2 || strings.HasSuffix(r.Inherited[1], "claimed") {
		t.Errorf("Inherited: %q; want the IPv6-only socket unclaimed", r.Inherited)
	}
}

// A unix socket path matches the file the inherited socket is bound to,
// however the path reaches it.
func TestListenOnAUnixPathComparesFiles(t *testing.T) {
	dir := filepath.Dir(activationtest.SocketPath(t, "x"))
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run", filepath.Join(dir, "var-run")); err != nil {
		t.Fatal(err)
	}
	sock := unixListener(t, "unix", filepath.Join(dir, "run", "app.sock"))
	r := run(t, childProc{
		scenario: "calls",
		files:    filesOf(sock),
		env:      activated(1),

		calls: []call{listenCall("unixpacket", "var-run/app.sock"), listenCall("unix", "var-run/app.sock")},
		dir:   dir,
	})
	if c := r.Calls[0]; !strings.HasSuffix(c.Err, "address already in use") {
		t.Errorf("%s = %q, %q; want net.Listen's address in use: a stream socket is not unixpacket", c.Call, c.Items, c.Err)
	}
	diff(t, "through a symbolic link, relative to the working directory", callResult{Call: r.Calls[1].Call, Items: []string{sock.desc}}, r.Calls[1])
}

// A host name is resolved with no lock held: neither syscall.ForkLock
// (which would stall every os/exec) nor the package's own.
func TestListenResolvesHostNamesWithoutHoldingLocks(t *testing.T) {
	web, l := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "resolve",
		files:    filesOf(web),
		env:      append(activated(1), "ACTIVATION_TEST_PORT="+strconv.Itoa(l.Addr().(*net.TCPAddr).Port)),
	})
	diff(t, "what blocked", []string(nil), r.Serve)
}

// Binding port 0 binds a port of the kernel's choosing, which collides
// with nothing: ListenPacket(":0") makes a socket of its own even when an
// unbound UDP socket (whose address reads 0.0.0.0:0) was inherited.
func TestPortZeroTakesNoInheritedSocket(t *testing.T) {
	for _, c := range []call{listenPacketCall("udp", ":0"), listenPacketCall("udp4", "0.0.0.0:0"), listenPacketCall("udp", "[::]:0")} {
		t.Run(c.String(), func(t *testing.T) {
			syscall.ForkLock.RLock()
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err == nil {
				unix.CloseOnExec(fd)
			}
			syscall.ForkLock.RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			unbound := os.NewFile(uintptr(fd), "unbound")
			t.Cleanup(func() { unbound.Close() })
			r := run(t, childProc{scenario: "describe-around", files: []*os.File{unbound}, env: activated(1, "idle"), calls: []call{c}})
			diff(t, "problems", []string(nil), r.Problems)
			if len(r.Lines) != 3 || !strings.HasPrefix(r.Lines[1], c.String()+`: ["*net.UDPConn udp`) || strings.Contains(r.Lines[1], ":0\"]") {
				t.Errorf("lines: %q; want a socket of the call's own, bound to a port", r.Lines)
			}
			if len(r.Lines) == 3 && r.Lines[2] != `after: fd 3 "idle": udp socket on 0.0.0.0:0` {
				t.Errorf("after the call: %q; want the inherited socket unclaimed", r.Lines[2])
			}
		})
	}
}

// A socket converted by a call that then failed is kept in the value made
// of it, and its original fd is closed: what Listen asks of the socket
// (is it IPv6-only?) must be asked of that value, not of the closed fd
// number. An IPv6-only [::]:P socket serves no IPv4, so Listen("tcp",
// "0.0.0.0:P") does not take it, parked or not.
func TestListenAsksAParkedSocketNotItsClosedFD(t *testing.T) {
	only, ol := tcpListener(t, "tcp6", "[::]:0") // Go makes tcp6 wildcard sockets IPv6-only
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	c := listenCall("tcp", fmt.Sprintf("0.0.0.0:%d", ol.Addr().(*net.TCPAddr).Port))
	r := run(t, childProc{scenario: "failed-then-calls", files: filesOf(only, a, b), env: activated(3, "only", "a", "b"), calls: []call{c}})
	diff(t, "problems", []string(nil), r.Problems)
	if len(r.Lines) != 4 || !strings.HasPrefix(r.Lines[0], c.String()+": [], ") || !strings.HasSuffix(r.Lines[0], "address already in use") {
		t.Errorf("lines: %q; want %s to fail as net.Listen does, address in use", r.Lines, c)
	}
	if len(r.Lines) == 4 && strings.HasSuffix(r.Lines[1], ", claimed") {
		t.Errorf("%s; want the IPv6-only socket unclaimed", r.Lines[1])
	}
}
