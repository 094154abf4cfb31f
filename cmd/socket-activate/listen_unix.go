//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// backlog is the listen(2) backlog, systemd's; the kernel caps it at
	// its own maximum (net.core.somaxconn on Linux).
	backlog = 4096
	// maxUnixPath is the size of sun_path, terminating NUL included.
	maxUnixPath = len(unix.RawSockaddrUnix{}.Path)
)

// address is a parsed -l value.
type address struct {
	text      string // as given on the command line
	family    int    // unix.AF_INET, unix.AF_INET6 or unix.AF_UNIX
	sa        unix.Sockaddr
	dualStack bool   // a bare PORT: IPv6 socket that takes IPv4 too
	path      string // unix socket path, "" for IP and abstract sockets
}

// parseAddress parses a -l value: PORT, IP:PORT, [IPv6]:PORT, /path or
// @abstract (Linux only).
func parseAddress(s string) (address, error) {
	a := address{text: s}
	switch {
	case s == "":
		return a, errors.New("empty address")
	case strings.HasPrefix(s, "/"):
		if len(s) >= maxUnixPath {
			return a, fmt.Errorf("unix socket path is %d bytes long, the limit is %d", len(s), maxUnixPath-1)
		}
		a.family, a.sa, a.path = unix.AF_UNIX, &unix.SockaddrUnix{Name: s}, s
		return a, nil
	case strings.HasPrefix(s, "@"):
		if !abstractSockets {
			return a, errors.New("abstract unix sockets exist only on Linux")
		}
		if len(s) >= maxUnixPath {
			return a, fmt.Errorf("abstract socket name is %d bytes long, the limit is %d", len(s), maxUnixPath-1)
		}
		a.family, a.sa = unix.AF_UNIX, &unix.SockaddrUnix{Name: s}
		return a, nil
	case strings.HasPrefix(s, "vsock:"):
		return a, errors.New("vsock addresses are not supported")
	case strings.Trim(s, "0123456789") == "":
		port, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return a, errors.New("port out of range 0-65535")
		}
		a.family, a.sa, a.dualStack = unix.AF_INET6, &unix.SockaddrInet6{Port: int(port)}, true
		return a, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return a, errors.New("not PORT, IP:PORT, [IPv6]:PORT, /path or @name")
	}
	ip := ap.Addr()
	if ip.Is4() {
		a.family, a.sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
		return a, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		ifi, err := net.InterfaceByName(zone)
		if err != nil {
			return a, fmt.Errorf("IPv6 zone %q: %w", zone, err)
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	a.family, a.sa = unix.AF_INET6, sa
	return a, nil
}

// socketType returns the socket type the options ask for.
func socketType(o *options) int {
	switch {
	case o.datagram:
		return unix.SOCK_DGRAM
	case o.seqpacket:
		return unix.SOCK_SEQPACKET
	}
	return unix.SOCK_STREAM
}

// newSocket returns a close-on-exec socket. The caller owns the fd.
func newSocket(family, typ int) (int, error) {
	// Hold ForkLock so that no child started meanwhile inherits the fd
	// before it is marked close-on-exec (not every system has SOCK_CLOEXEC).
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// listenSocket opens, binds and (for stream and seqpacket sockets) listens on
// a; a unix socket file gets mode. The returned file is blocking and
// close-on-exec and belongs to the caller; its Name is the bound address
// as printed.
func listenSocket(a address, typ int, mode uint32) (*os.File, error) {
	fd, err := newSocket(a.family, typ)
	if a.dualStack && errors.Is(err, unix.EAFNOSUPPORT) {
		// No IPv6 on this system: a bare port means every IPv4 address.
		a.family, a.sa, a.dualStack = unix.AF_INET, &unix.SockaddrInet4{Port: a.sa.(*unix.SockaddrInet6).Port}, false
		fd, err = newSocket(a.family, typ)
	}
	if err != nil {
		return nil, err
	}
	if err := bindListen(fd, a, typ, mode); err != nil {
		unix.Close(fd)
		return nil, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	return os.NewFile(uintptr(fd), formatSockaddr(sa)), nil
}

// bindListen sets the socket options, binds fd to a and listens if typ is
// a connection-oriented type. A unix socket file gets mode, whatever the
// umask, and the directories leading to it are made if missing, 0755
// whatever the umask, as systemd-socket-activate makes them.
func bindListen(fd int, a address, typ int, mode uint32) error {
	// On every socket, as systemd-socket-activate sets it: a restarted
	// server binds again while old connections linger in TIME_WAIT, and
	// datagram sockets may share an address.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	if a.dualStack {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return os.NewSyscallError("setsockopt IPV6_V6ONLY", err)
		}
	}
	if a.path != "" {
		if err := makeParents(filepath.Dir(a.path)); err != nil {
			return err
		}
		if err := removeStaleSocket(a.path, typ); err != nil {
			return err
		}
	}
	if err := bind(fd, a, mode); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET {
		if err := unix.Listen(fd, backlog); err != nil {
			if a.path != "" {
				os.Remove(a.path)
			}
			return os.NewSyscallError("listen", err)
		}
	}
	return nil
}

// makeParents makes dir and the directories leading to it that are
// missing, each with mode 0755 whatever the umask, as systemd's
// mkdir_parents makes them: created, then given the mode. A directory
// that exists is left as it is.
func makeParents(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeParents(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil // made meanwhile by another process
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

// bind binds fd to a. For a unix socket path it sets the umask to the
// complement of mode meanwhile, so that the file gets mode exactly with no
// moment of another: bind(2) creates it with 0777 less the umask. It runs
// while socket-activate starts, before anything else could create a file.
func bind(fd int, a address, mode uint32) error {
	if a.path == "" {
		return unix.Bind(fd, a.sa)
	}
	old := unix.Umask(int(^mode & 0o777))
	defer unix.Umask(old)
	return unix.Bind(fd, a.sa)
}

// removeStaleSocket removes path if it is a unix socket nobody serves, so
// that a socket left by an earlier run does not stop this one. A socket
// that answers is in use; anything else at path is left alone (bind then
// fails with "address already in use").
func removeStaleSocket(path string, typ int) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return nil
	}
	network := map[int]string{unix.SOCK_STREAM: "unix", unix.SOCK_DGRAM: "unixgram", unix.SOCK_SEQPACKET: "unixpacket"}[typ]
	c, err := net.DialTimeout(network, path, time.Second)
	if err == nil {
		c.Close()
		return os.NewSyscallError("bind", unix.EADDRINUSE)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// formatSockaddr prints a socket address: 127.0.0.1:80, [::1]:80, /path,
// @abstract.
func formatSockaddr(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrUnix:
		if sa.Name == "" {
			return "unnamed unix socket"
		}
		return sa.Name
	}
	return fmt.Sprintf("%T", sa)
}

// remoteEnv returns REMOTE_ADDR and REMOTE_PORT for an IP peer, as systemd
// sets them for Accept=yes services (an IPv4-mapped IPv6 address is printed
// as IPv4), and nothing for other peers.
func remoteEnv(sa unix.Sockaddr) []string {
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	default:
		return nil
	}
	return []string{"REMOTE_ADDR=" + ap.Addr().String(), "REMOTE_PORT=" + strconv.Itoa(int(ap.Port()))}
}
