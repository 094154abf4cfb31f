//go:build unix

package activationtest_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/activationtest"
)

// timeout bounds every wait in these tests, on either side of the exec.
const timeout = 20 * time.Second

// TestMain runs a helper instead of the tests when the test binary was
// started by activationtest.Self.
func TestMain(m *testing.M) {
	switch name := activationtest.HelperName(); name {
	case "":
		// Children built with -race would pause for a second as they exit.
		if _, ok := os.LookupEnv("GORACE"); !ok {
			os.Setenv("GORACE", "atexit_sleep_ms=0")
		}
		os.Exit(m.Run())
	case "report", "linger":
		if err := report(name == "linger"); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "package":
		if err := usePackage(); err != nil {
			fmt.Fprintln(os.Stderr, "package:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "environ":
		// What the program received, to standard output as JSON.
		if err := json.NewEncoder(os.Stdout).Encode(childEnv{os.Getpid(), os.Environ()}); err != nil {
			fmt.Fprintln(os.Stderr, "environ:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "greeter":
		if err := greet(); err != nil {
			fmt.Fprintln(os.Stderr, "greeter:", err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		os.Exit(2)
	}
}

// childEnv is what the "environ" helper received.
type childEnv struct {
	Pid int
	Env []string
}

// childReport is what the "report" helper sees of its activation.
type childReport struct {
	Pid     int            // the child's getpid()
	Env     []string       // every LISTEN_* variable, sorted
	Sockets []socketReport // fds 3, 4, … as LISTEN_FDS counts them
}

// socketReport describes one inherited fd.
type socketReport struct {
	Network   string
	Addr      string // getsockname
	Listening bool   // a listener rather than a packet conn
}

// report is the "report" helper: it describes fds 3… and its LISTEN_*
// environment, accepts one connection on fd 3, which must be a listener, and
// writes the report there as JSON. With linger, the "linger" helper, it then
// waits for another connection, until its parent kills it.
func report(linger bool) error {
	r := childReport{Pid: os.Getpid()}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			r.Env = append(r.Env, kv)
		}
	}
	slices.Sort(r.Env)
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil {
		return err
	}
	var first net.Listener
	for fd := 3; fd < 3+n; fd++ {
		// net.FileListener accepts a unixgram socket too: ask the kernel.
		typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
		if err != nil {
			return fmt.Errorf("fd %d: %v", fd, err)
		}
		f := os.NewFile(uintptr(fd), "fd "+strconv.Itoa(fd))
		switch typ {
		case syscall.SOCK_STREAM:
			l, err := net.FileListener(f)
			if err != nil {
				return err
			}
			r.Sockets = append(r.Sockets, socketReport{l.Addr().Network(), l.Addr().String(), true})
			if fd == 3 {
				first = l
			}
		case syscall.SOCK_DGRAM:
			c, err := net.FilePacketConn(f)
			if err != nil {
				return err
			}
			r.Sockets = append(r.Sockets, socketReport{c.LocalAddr().Network(), c.LocalAddr().String(), false})
		default:
			return fmt.Errorf("fd %d has socket type %d", fd, typ)
		}
		f.Close()
	}
	if first == nil {
		return errors.New("fd 3 is not a listener")
	}
	conn, err := accept(first)
	if err != nil {
		return err
	}
	err = json.NewEncoder(conn).Encode(r)
	conn.Close()
	if err != nil || !linger {
		return err
	}
	_, err = accept(first)
	return err
}

// greet is the "greeter" helper of ExampleCommand: it accepts one
// connection on fd 3 and says what it received.
func greet() error {
	pidOK := os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())
	f := os.NewFile(3, "fd 3")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return err
	}
	conn, err := accept(l)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "hello: LISTEN_PID is my pid: %t, LISTEN_FDS=%s, LISTEN_FDNAMES=%s\n",
		pidOK, os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	return err
}

// accept accepts one connection on l within the timeout.
func accept(l net.Listener) (net.Conn, error) {
	if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
		if err := d.SetDeadline(time.Now().Add(timeout)); err != nil {
			return nil, err
		}
	}
	return l.Accept()
}

// ask connects to the listener at addr and reads one line.
func ask(t *testing.T, addr net.Addr) string {
	t.Helper()
	conn, err := net.DialTimeout(addr.Network(), addr.String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading from the child at %s: %v", addr, err)
	}
	return line
}

// wait waits, within the timeout, for cmd to exit and fails the test unless
// it exited with status 0.
func wait(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := waitErr(t, cmd); err != nil {
		t.Fatalf("child: %v", err)
	}
}

// waitErr waits, within the timeout, for cmd to exit and returns what
// cmd.Wait returns. It kills the child and fails the test when the time
// is up.
func waitErr(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		cmd.Process.Kill()
		t.Fatalf("child still running after %v", timeout)
		return nil
	}
}

// diff fails the test if got differs from want, printing both.
func diff[T any](t *testing.T, want, got T) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("mismatch (-want +got):\n-%s\n+%s", w, g)
	}
}

// unixListener listens on a fresh socket path; a cleanup closes it.
func unixListener(t *testing.T, name string) activationtest.Socket {
	return activationtest.Listen(t, name, "unix", activationtest.SocketPath(t, "s"))
}

// describe is what the child should report for socket s.
func describe(s activationtest.Socket) socketReport {
	switch {
	case s.Listener != nil:
		return socketReport{s.Listener.Addr().Network(), s.Listener.Addr().String(), true}
	default:
		return socketReport{s.PacketConn.LocalAddr().Network(), s.PacketConn.LocalAddr().String(), false}
	}
}

func TestSelf(t *testing.T) {
	// Variables of an outer activation must not reach the child.
	t.Setenv("LISTEN_FDS", "99")
	t.Setenv("LISTEN_PIDFDID", "1")

	tests := []struct {
		name      string
		sockets   func(t *testing.T) []activationtest.Socket
		wantNames string
	}{{
		name: "a TCP listener, a UDP socket and a unix listener arrive as fds 3, 4 and 5 with their names",
		sockets: func(t *testing.T) []activationtest.Socket {
			return []activationtest.Socket{
				activationtest.Listen(t, "web", "tcp", "127.0.0.1:0"),
				activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0"),
				unixListener(t, "admin"),
			}
		},
		wantNames: "web:dns:admin",
	}, {
		name: "an empty name arrives as unknown and colons and backslashes arrive escaped",
		sockets: func(t *testing.T) []activationtest.Socket {
			return []activationtest.Socket{
				activationtest.Listen(t, "", "tcp", "127.0.0.1:0"),
				activationtest.Listen(t, `a:b\c`, "tcp", "127.0.0.1:0"),
			}
		},
		wantNames: `unknown:a\:b\\c`,
	}, {
		name: "a unixgram socket arrives as a packet conn",
		sockets: func(t *testing.T) []activationtest.Socket {
			return []activationtest.Socket{
				unixListener(t, "stream"),
				activationtest.ListenPacket(t, "dgram", "unixgram", activationtest.SocketPath(t, "d")),
			}
		},
		wantNames: "stream:dgram",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sockets := tt.sockets(t)
			cmd := activationtest.Self(t, sockets, "report")
			var got childReport
			if err := json.Unmarshal([]byte(ask(t, sockets[0].Listener.Addr())), &got); err != nil {
				t.Fatal(err)
			}
			wait(t, cmd)

			want := childReport{
				Pid: cmd.Process.Pid,
				Env: []string{
					"LISTEN_FDNAMES=" + tt.wantNames,
					"LISTEN_FDS=" + strconv.Itoa(len(sockets)),
					"LISTEN_PID=" + strconv.Itoa(cmd.Process.Pid),
				},
			}
			for _, s := range sockets {
				want.Sockets = append(want.Sockets, describe(s))
			}
			diff(t, want, got)
		})
	}
}

func TestStartPassesAFileAndLeavesItOpen(t *testing.T) {
	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	f, err := web.Listener.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Start passes the parent's environment on: this is how a test binary
	// started with Start rather than Self learns its helper.
	t.Setenv(activationtest.HelperEnv, "report")

	cmd := activationtest.Start(t, []activationtest.Socket{{Name: "file", File: f}}, exe, "-test.run=^$")
	var got childReport
	if err := json.Unmarshal([]byte(ask(t, web.Listener.Addr())), &got); err != nil {
		t.Fatal(err)
	}
	wait(t, cmd)
	want := childReport{
		Pid: cmd.Process.Pid,
		Env: []string{
			"LISTEN_FDNAMES=file",
			"LISTEN_FDS=1",
			"LISTEN_PID=" + strconv.Itoa(cmd.Process.Pid),
		},
		Sockets: []socketReport{describe(web)},
	}
	diff(t, want, got)

	// The parent's file and listener still work once the child is gone.
	if _, err := f.Stat(); err != nil {
		t.Errorf("the file passed to Start was closed: %v", err)
	}
	conn, err := net.DialTimeout("tcp", web.Listener.Addr().String(), timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got2, err := accept(web.Listener)
	if err != nil {
		t.Fatalf("the parent's listener no longer accepts: %v", err)
	}
	got2.Close()
}

func TestSelfAndItsCleanupLeaveNoFDBehind(t *testing.T) {
	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	dns := activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0")
	before := openFDs(t)

	t.Run("the child is still running when the test ends", func(t *testing.T) {
		cmd := activationtest.Self(t, []activationtest.Socket{web, dns}, "linger")
		// Reading the report proves the child runs; its cleanup kills it.
		if got := ask(t, web.Listener.Addr()); !strings.Contains(got, `"Pid":`+strconv.Itoa(cmd.Process.Pid)) {
			t.Errorf("report %q does not name pid %d", got, cmd.Process.Pid)
		}
	})
	diff(t, before, openFDs(t))
}

// usePackage is the "package" helper: it takes its sockets through package
// activation and answers one connection on the listener named "web" with
// what it got, one socket a line, and the LISTEN_* variables left.
func usePackage() error {
	ls, err := activation.ListenersWithNames()
	if err != nil {
		return err
	}
	pcs, err := activation.PacketConnsWithNames()
	if err != nil {
		return err
	}
	var lines []string
	for name, ls := range ls {
		for _, l := range ls {
			lines = append(lines, fmt.Sprintf("%s: listener %s %s", name, l.Addr().Network(), l.Addr()))
		}
	}
	for name, pcs := range pcs {
		for _, pc := range pcs {
			lines = append(lines, fmt.Sprintf("%s: packet conn %s %s", name, pc.LocalAddr().Network(), pc.LocalAddr()))
		}
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") {
			lines = append(lines, "left: "+kv)
		}
	}
	slices.Sort(lines)
	if len(ls["web"]) != 1 {
		return fmt.Errorf("%d listeners named web", len(ls["web"]))
	}
	conn, err := accept(ls["web"][0])
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = fmt.Fprintln(conn, strings.Join(lines, "; "))
	return err
}

func TestSelfServesPackageActivation(t *testing.T) {
	web := activationtest.Listen(t, "web", "tcp", "127.0.0.1:0")
	admin := unixListener(t, "admin")
	dns := activationtest.ListenPacket(t, "dns", "udp", "127.0.0.1:0")
	cmd := activationtest.Self(t, []activationtest.Socket{web, dns, admin}, "package")

	got := ask(t, web.Listener.Addr())
	wait(t, cmd)
	want := strings.Join([]string{
		"admin: listener unix " + admin.Listener.Addr().String(),
		"dns: packet conn udp " + dns.PacketConn.LocalAddr().String(),
		"web: listener tcp " + web.Listener.Addr().String(),
	}, "; ") + "\n"
	diff(t, want, got)
}

// A TMPDIR too long for a socket path gives way to /tmp, and the path
// binds.
func TestSocketPathFitsUnderALongTMPDIR(t *testing.T) {
	long := t.TempDir()
	for len(long) < 120 {
		long += "/deeper-directory-name"
	}
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", long)
	path := activationtest.SocketPath(t, "web")
	if strings.HasPrefix(path, long) {
		t.Errorf("SocketPath = %q, under the %d-byte TMPDIR", path, len(long))
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

// fatalTB records the message of Fatalf and ends the goroutine, as
// testing.T's Fatalf does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()          {}
func (f *fatalTB) Cleanup(c func()) { f.TB.Cleanup(c) }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A name that cannot fit even under /tmp fails the test rather than
// return a path that cannot be bound.
func TestSocketPathRefusesANameThatCannotFit(t *testing.T) {
	f := &fatalTB{TB: t}
	done := make(chan string, 1)
	go func() {
		defer func() { done <- f.msg }()
		path := activationtest.SocketPath(f, strings.Repeat("n", 200))
		f.msg = "returned " + path
	}()
	if msg := <-done; !strings.HasPrefix(msg, "activationtest: a socket path for ") {
		t.Errorf("SocketPath with a 200-byte name: %q, want it to fail the test", msg)
	}
}
