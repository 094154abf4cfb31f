package activation_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

// An O_PATH fd (a handle on a directory or file, which the fd store may
// hold) is an fd like any other: Files hands it out and every other call
// still works.
func TestAnOPathFDIsAFileNotAnError(t *testing.T) {
	fd, err := unix.Open(t.TempDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.NewFile(uintptr(fd), "dir")
	t.Cleanup(func() { dir.Close() })
	web, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{dir, web.file},
		env:      append(activated(2, "state", "web"), "ACTIVATION_TEST_CALLS=Listeners,Files"),
	})
	diff(t, "calls", []callResult{
		{Call: "Listeners", Items: []string{web.desc}},
		{Call: "Files", Items: []string{"*os.File state mode 40000"}},
	}, r.Calls)
	if len(r.Inherited) != 2 || r.Inherited[0] != `fd 3 "state": other, claimed` {
		t.Errorf("Inherited: %q", r.Inherited)
	}
	diff(t, "problems using the values", []string(nil), r.Serve)
}

// An ICMP "ping" socket is a datagram socket with inet addresses, which
// the net package would serve as UDP: it is of network other, and only
// Files takes it.
func TestAPingSocketIsNotUDP(t *testing.T) {
	ping := pingSocket(t)
	dns := udpConn(t, "udp4", "127.0.0.1:0")
	r := run(t, childProc{
		scenario: "calls",
		files:    []*os.File{ping, dns.file},
		env:      append(activated(2, "ping", "dns"), "ACTIVATION_TEST_CALLS=PacketConns,ListenPacket udp sd-listen:ping,Files"),
	})
	diff(t, "calls", []callResult{
		{Call: "PacketConns", Items: []string{dns.desc}},
		{Call: "ListenPacket udp sd-listen:ping", Err: r.Calls[1].Err},
		{Call: "Files", Items: []string{"*os.File ping mode 140000"}},
	}, r.Calls)
	if want := `activation: listen udp sd-listen:ping: no unclaimed datagram socket is named "ping"`; !strings.HasPrefix(r.Calls[1].Err, want) {
		t.Errorf("ListenPacket: error %q, want one starting %q", r.Calls[1].Err, want)
	}
	if len(r.Inherited) != 2 || r.Inherited[0] != `fd 3 "ping": other socket on 0.0.0.0, claimed` {
		t.Errorf("Inherited: %q", r.Inherited)
	}
}

// pingSocket opens an ICMP datagram socket. The kernel allows them only to
// the groups in net.ipv4.ping_group_range, by default none; as root, the
// socket is made in a network namespace of its own where the range can be
// set without touching the machine's.
func pingSocket(t *testing.T) *os.File {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if errors.Is(err, unix.EACCES) && os.Geteuid() == 0 {
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with its namespace
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				done <- err
				return
			}
			if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0); err != nil {
				done <- err
				return
			}
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
			done <- err
		}()
		err = <-done
	}
	if err != nil {
		msg := "cannot open an ICMP datagram socket (net.ipv4.ping_group_range, or root to set it in a network namespace): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	f := os.NewFile(uintptr(fd), "ping")
	t.Cleanup(func() { f.Close() })
	return f
}

// A relative unix socket path names a file in the working directory: it
// does not match a socket bound to the same relative name in another
// directory, nor a socket whose file was replaced.
func TestListenOnAUnixPathDoesNotMatchAnotherFile(t *testing.T) {
	root := filepath.Dir(activationtest.SocketPath(t, "x"))
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inA := bindRelative(t, a, "app.sock")
	replaced := unixListener(t, "unix", filepath.Join(b, "old.sock"))
	if err := os.Remove(filepath.Join(b, "old.sock")); err != nil {
		t.Fatal(err)
	}
	unixListener(t, "unix", filepath.Join(b, "old.sock")) // another socket on that path now
	for _, tt := range []struct {
		name, dir, call string
		want            callResult
	}{
		{"the same relative name in the directory it was bound in matches", a, "Listen unix app.sock",
			callResult{Items: []string{"*net.UnixListener unix app.sock"}}},
		{"the same relative name in another directory does not", b, "Listen unix app.sock",
			callResult{Items: []string{"*net.UnixListener unix app.sock"}}},
		{"a path whose file was replaced does not", b, "Listen unix old.sock",
			callResult{Err: "listen unix old.sock: bind: address already in use"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(b, "app.sock"))
			r := run(t, childProc{
				scenario: "calls",
				files:    []*os.File{inA, replaced.file},
				env:      append(activated(2), "ACTIVATION_TEST_CALLS="+tt.call),
				dir:      tt.dir,
			})
			tt.want.Call = tt.call
			diff(t, "calls", tt.want, r.Calls[0])
			claimed := strings.HasSuffix(r.Inherited[0], ", claimed")
			if wantClaimed := tt.dir == a; claimed != wantClaimed {
				t.Errorf("the socket bound in %s claimed: %v, want %v (Inherited %q)", a, claimed, wantClaimed, r.Inherited)
			}
			if strings.HasSuffix(r.Inherited[1], ", claimed") {
				t.Errorf("the socket whose file was replaced was claimed: %q", r.Inherited)
			}
		})
	}
}

// bindRelative makes a unix listener bound to the relative name in dir,
// as a manager running in dir does, without changing the test's working
// directory: the bind runs on a thread with a working directory of its own.
func bindRelative(t *testing.T, dir, name string) *os.File {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its working directory
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- result{-1, err}
			return
		}
		if err := unix.Chdir(dir); err != nil {
			done <- result{-1, err}
			return
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			if err = unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err == nil {
				err = unix.Listen(fd, 8)
			}
		}
		done <- result{fd, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	f := os.NewFile(uintptr(r.fd), name)
	t.Cleanup(func() { f.Close() })
	return f
}
