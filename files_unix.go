//go:build unix

package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The errnos libsystemd returns for a malformed environment.
var errnoInvalid, errnoRange error = unix.EINVAL, unix.ERANGE

// processEnviron is the environment of this process.
func processEnviron() environ {
	return environ{getenv: os.LookupEnv, pid: os.Getpid(), pidfdID: ownPidfdID}
}

// inherit does what sd_listen_fds_with_names(1, …) does: it parses the
// environment, checks the fds and names them, and unsets the variables on
// every path. It also classifies each fd. It leaves marking the fds
// close-on-exec to the caller, which holds syscall.ForkLock meanwhile,
// except on an error, where the fds checked are marked as libsystemd
// marks them.
func inherit(env environ) ([]inheritedFD, error) {
	defer unsetEnv()
	le, err := parseEnv(env)
	if err != nil || le.n == 0 {
		return nil, err
	}
	if n, err := checkRange(le.n); err != nil {
		markRange(n)
		return nil, err
	}
	fds := make([]inheritedFD, le.n)
	for i := range fds {
		e := &fds[i]
		e.fd = int32(firstFD + i)
		if e.kind, e.class, e.sotype, err = classify(firstFD + i); err != nil {
			markRange(i)
			if errors.Is(err, unix.EBADF) {
				return nil, fmt.Errorf("activation: LISTEN_FDS=%d but fd %d is not open: %w", le.n, e.fd, err)
			}
			return nil, fmt.Errorf("activation: fd %d: %w", e.fd, err)
		}
	}
	if err := le.checkNames(le.n); err != nil {
		markRange(le.n)
		return nil, err
	}
	for i := range fds {
		fds[i].name = le.name(i)
	}
	return fds, nil
}

func unsetEnv() {
	for _, key := range [...]string{envPID, envPIDFDID, envFDs, envFDNames} {
		os.Unsetenv(key)
	}
}

// checkRange checks that fds 3 … 3+n-1 were inherited, and on an error
// returns how many before the first bad one were. An fd that is
// close-on-exec already cannot have come through exec: this process
// opened it (the Go runtime does, before main), so it is not the
// manager's. Fds are allocated lowest first, so a LISTEN_FDS that counts
// more fds than were passed ends on an fd that is not open or that this
// process opened: when the last fd of the range is open and not
// close-on-exec, the range is the manager's, and one system call has
// checked it; classify then finds any fd in between that is not open.
// Otherwise the fds are checked in order up to the first bad one, so the
// cost follows the fds really open, not n.
func checkRange(n int) (int, error) {
	if flags, err := unix.FcntlInt(uintptr(firstFD+n-1), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
		return n, nil
	}
	for i := 0; i < n; i++ {
		fd := firstFD + i
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return i, fmt.Errorf("activation: LISTEN_FDS=%d but fd %d is not open: %w", n, fd, os.NewSyscallError("fcntl", err))
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return i, fmt.Errorf("activation: LISTEN_FDS=%d but fd %d was not inherited (it is close-on-exec, so this process opened it): %w",
				n, fd, os.NewSyscallError("fcntl", unix.EBADF))
		}
	}
	// Unreachable: the last fd was not open or not inherited.
	return n, fmt.Errorf("activation: LISTEN_FDS=%d: fd %d changed while it was checked", n, firstFD+n-1)
}

// markRange marks fds 3 … 3+n-1 close-on-exec.
func markRange(n int) {
	for i := 0; i < n; i++ {
		markCloseOnExec(firstFD + i)
	}
}

// markCloseOnExec sets FD_CLOEXEC on an inherited fd, known to be open
// and to have no other fd flag.
func markCloseOnExec(fd int) {
	unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
}

// holdForks keeps the standard library from forking until releaseForks.
func holdForks() { syscall.ForkLock.RLock() }

func releaseForks() { syscall.ForkLock.RUnlock() }

// classify tells what fd is with as few system calls as it can: one
// getsockopt for a listening socket, two for other sockets, and fstat
// for everything else.
// sotype is the socket's SO_TYPE, or 0 where it was not asked.
func classify(fd int) (kind Kind, class sockClass, sotype int8, err error) {
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	switch {
	case err == nil && acc != 0:
		return KindSocket, listenerSocket, 0, nil
	case err == nil:
		sotype, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return 0, 0, 0, os.NewSyscallError("getsockopt", err)
		}
		switch sotype {
		case unix.SOCK_DGRAM:
			return KindSocket, datagramSocket, int8(sotype), nil
		case unix.SOCK_STREAM, unix.SOCK_SEQPACKET:
			return KindSocket, streamSocket, int8(sotype), nil
		}
		return KindSocket, otherSocket, int8(sotype), nil
	case err != unix.ENOTSOCK:
		return 0, 0, 0, os.NewSyscallError("getsockopt", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, 0, os.NewSyscallError("fstat", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return KindSocket, otherSocket, 0, nil
	case unix.S_IFIFO:
		return KindFIFO, notSocket, 0, nil
	case unix.S_IFCHR:
		return KindCharDevice, notSocket, 0, nil
	case unix.S_IFREG:
		if isMessageQueue(fd) {
			return KindMessageQueue, notSocket, 0, nil
		}
		return KindRegular, notSocket, 0, nil
	}
	return KindOther, notSocket, 0, nil
}

// describe learns a socket's network and addresses from its fd, once, if
// the fd is still the package's to look at.
func describe(e *inheritedFD) {
	if e.described || e.claimed {
		return
	}
	e.described = true
	if e.kind != KindSocket {
		return
	}
	fd := int(e.fd)
	if e.sotype == 0 {
		sotype, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return
		}
		e.sotype = int8(sotype)
	}
	// The syscall package's getsockname, unlike x/sys's, does not ask
	// for the protocol of every inet socket.
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return
	}
	e.laddr = sockaddrToAddr(sa, int(e.sotype))
	if e.class != listenerSocket {
		if peer, err := syscall.Getpeername(fd); err == nil {
			e.raddr = sockaddrToAddr(peer, int(e.sotype))
		}
	}
}

// sockaddrToAddr is the net package's address for sa on a socket of type
// sotype, or nil for families and types the net package does not serve.
func sockaddrToAddr(sa syscall.Sockaddr, sotype int) net.Addr {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return ipAddr(net.IP(append([]byte(nil), sa.Addr[:]...)), sa.Port, "", sotype)
	case *syscall.SockaddrInet6:
		zone := ""
		if sa.ZoneId != 0 {
			zone = strconv.FormatUint(uint64(sa.ZoneId), 10)
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return ipAddr(net.IP(append([]byte(nil), sa.Addr[:]...)), sa.Port, zone, sotype)
	case *syscall.SockaddrUnix:
		switch sotype {
		case unix.SOCK_STREAM:
			return &net.UnixAddr{Name: sa.Name, Net: "unix"}
		case unix.SOCK_DGRAM:
			return &net.UnixAddr{Name: sa.Name, Net: "unixgram"}
		case unix.SOCK_SEQPACKET:
			return &net.UnixAddr{Name: sa.Name, Net: "unixpacket"}
		}
	}
	return nil
}

func ipAddr(ip net.IP, port int, zone string, sotype int) net.Addr {
	switch sotype {
	case unix.SOCK_STREAM:
		return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
	case unix.SOCK_DGRAM:
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return nil
}

// parkedFile returns a duplicate of the socket parked on e as an *os.File
// named after e; claiming e then closes the parked value.
func parkedFile(e *inheritedFD) (*os.File, error) {
	sc, ok := e.parked.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("activation: fd %d (%q): %T has no file descriptor", e.fd, e.name, e.parked)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = dupCloseOnExec(int(s)) }); err != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("activation: fd %d (%q): %w", e.fd, e.name, os.NewSyscallError("fcntl", dupErr))
	}
	return os.NewFile(uintptr(fd), e.name), nil
}
