package activation_test

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

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
		env:      activated(2, "state", "web"),
		calls:    []call{listenersCall(), filesCall()},
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
		env:      activated(2, "ping", "dns"),
		calls:    []call{packetConnsCall(), listenPacketCall("udp", "sd-listen:ping"), filesCall()},
	})
	diff(t, "calls", []callResult{
		{Call: "PacketConns", Items: []string{dns.desc}},
		{Call: "ListenPacket udp sd-listen:ping", Err: r.Calls[1].Err},
		{Call: "Files", Items: []string{"*os.File ping mode 140000"}},
	}, r.Calls)
	if want := `listen udp sd-listen:ping: activation: no unclaimed datagram socket is named "ping"`; !strings.HasPrefix(r.Calls[1].Err, want) {
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
