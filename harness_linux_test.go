package activation_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// rawSocket opens a socket of any family, binds it to sa if sa is not
// nil, and listens on it if listen is set.
func rawSocket(t *testing.T, name string, domain, typ, proto int, sa unix.Sockaddr, listen bool) *os.File {
	t.Helper()
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		msg := fmt.Sprintf("cannot open a %s socket: %v", name, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	f := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { f.Close() })
	if sa != nil {
		if err := unix.Bind(fd, sa); err != nil {
			t.Fatalf("%s: bind: %v", name, err)
		}
	}
	if listen {
		if err := unix.Listen(fd, 8); err != nil {
			t.Fatalf("%s: listen: %v", name, err)
		}
	}
	return f
}

func vsockListener(t *testing.T) *os.File {
	return rawSocket(t, "vsock", unix.AF_VSOCK, unix.SOCK_STREAM, 0,
		&unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: unix.VMADDR_PORT_ANY}, true)
}

func netlinkSocket(t *testing.T) *os.File {
	return rawSocket(t, "netlink", unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_ROUTE, nil, false)
}

func packetSocket(t *testing.T) *os.File {
	return rawSocket(t, "packet", unix.AF_PACKET, unix.SOCK_DGRAM, 0, nil, false)
}

const (
	ipprotoUDPLite = 136 // IPPROTO_UDPLITE
	ipprotoMPTCP   = 262 // IPPROTO_MPTCP
)

// readmeNumber returns the number that the first match of re, with one
// group of digits, finds in README.md, so that a test can check a figure
// the README quotes from it.
func readmeNumber(t *testing.T, re string) int {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(re).FindSubmatch(b)
	if m == nil {
		t.Fatalf("README.md has no %q", re)
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
