//go:build unix

package activation

import (
	"fmt"
	"os"
	"syscall"

	"github.com/go-activation/activation/internal/cloexec"
	"golang.org/x/sys/unix"
)

// processEnviron is the environment of this process.
func processEnviron() environ {
	return environ{getenv: os.LookupEnv, pid: os.Getpid(), pidfdID: ownPidfdID,
		errnos: errnos{invalid: unix.EINVAL, outOfRange: unix.ERANGE}}
}

// inherit does what sd_listen_fds_with_names(1, …) does: it parses the
// environment, checks the fds and names them, and unsets the variables on
// every path. It also classifies each fd. It leaves marking the fds
// close-on-exec to the caller, which holds syscall.ForkLock meanwhile,
// except on an error, where every inherited fd of the range is marked.
func inherit(env environ) ([]inheritedFD, error) {
	defer unsetEnv()
	le, err := parseEnv(env)
	if err == nil && le.n > 0 {
		var fds []inheritedFD
		if fds, err = inheritRange(le); err == nil {
			return fds, nil
		}
	}
	if le.n > 0 {
		// The range is this process's and the call failed: none of it may
		// reach a child. The fds that are open and not close-on-exec were
		// inherited.
		cloexec.MarkRange(firstFD, firstFD+le.n-1)
	}
	return nil, err
}

// inheritRange checks, names and classifies fds 3 … 3+n-1. Nothing is
// allocated before every fd of the range is known to be inherited, so
// memory follows the fds really open, not what LISTEN_FDS claims.
func inheritRange(le listenEnv) ([]inheritedFD, error) {
	if err := checkRange(le.n); err != nil {
		return nil, err
	}
	var names []string // nil: every fd is "unknown"
	if le.hasNames {
		var err error
		if names, err = le.names(le.n); err != nil {
			return nil, err
		}
	}
	fds := make([]inheritedFD, le.n)
	var err error
	for i := range fds {
		e := &fds[i]
		e.fd, e.name = int32(firstFD+i), defaultName
		if names != nil {
			e.name = names[i]
		}
		if e.kind, e.class, e.sotype, err = classify(firstFD + i); err != nil {
			return nil, fmt.Errorf("activation: fd %d: %w", e.fd, err)
		}
	}
	return fds, nil
}

// unsetEnv unsets the protocol's variables that are set. (Unsetting one
// that is not costs as much: in a program linked with cgo, the C
// library's unsetenv walks the whole environment.)
func unsetEnv() {
	for _, key := range [...]string{envPID, envPIDFDID, envFDs, envFDNames} {
		if _, set := os.LookupEnv(key); set {
			os.Unsetenv(key)
		}
	}
}

// checkRange checks that every fd of 3 … 3+n-1 is open and inherited,
// in order, and names the first that is not. An fd that is close-on-exec
// already cannot have come through exec, which closes such fds: this
// process opened it after exec (the Go runtime does, before main, and
// lands on the lowest free fds, holes in the range included), or other
// code that read LISTEN_FDS first marked it. Either way it is not taken.
// The check stops at the first bad fd, so its cost follows the fds really
// open, whatever LISTEN_FDS claims.
func checkRange(n int) error {
	for i := 0; i < n; i++ {
		fd := firstFD + i
		flags, err := fdFlags(fd)
		if err != nil {
			return fmt.Errorf("activation: LISTEN_FDS=%d but fd %d is not open: %w", n, fd, os.NewSyscallError("fcntl", err))
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return fmt.Errorf("activation: LISTEN_FDS=%d but fd %d is close-on-exec, which no fd passed through exec is: "+
				"this process opened it, or other code marked it, so it is not taken: %w",
				n, fd, os.NewSyscallError("fcntl", unix.EBADF))
		}
	}
	return nil
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
// getsockopt for a listening socket, two for other sockets (three for
// datagram sockets where the protocol can be asked), and fstat for
// everything else. An O_PATH fd (Linux), a handle that cannot be read or
// written, fails getsockopt with EBADF and is classified by fstat, as the
// file it names; one naming a socket file is of kind other.
// sotype is the socket's SO_TYPE, or 0 where it was not asked.
func classify(fd int) (kind Kind, class sockClass, sotype int8, err error) {
	acc, err := socketOption(fd, unix.SO_ACCEPTCONN)
	switch {
	case err == nil && acc != 0:
		return KindSocket, listenerSocket, 0, nil
	case err == nil:
		sotype, err := socketOption(fd, unix.SO_TYPE)
		if err != nil {
			return 0, 0, 0, os.NewSyscallError("getsockopt", err)
		}
		switch sotype {
		case unix.SOCK_DGRAM:
			if !datagramProtocol(fd) {
				return KindSocket, otherSocket, int8(sotype), nil
			}
			return KindSocket, datagramSocket, int8(sotype), nil
		case unix.SOCK_STREAM, unix.SOCK_SEQPACKET:
			return KindSocket, streamSocket, int8(sotype), nil
		}
		return KindSocket, otherSocket, int8(sotype), nil
	case err != unix.ENOTSOCK && err != unix.EBADF:
		return 0, 0, 0, os.NewSyscallError("getsockopt", err)
	}
	handle := err == unix.EBADF
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, 0, os.NewSyscallError("fstat", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		if handle {
			return KindOther, notSocket, 0, nil
		}
		return KindSocket, otherSocket, 0, nil
	case unix.S_IFIFO:
		return KindFIFO, notSocket, 0, nil
	case unix.S_IFCHR:
		return KindCharDevice, notSocket, 0, nil
	case unix.S_IFREG:
		if !handle && isMessageQueue(fd) {
			return KindMessageQueue, notSocket, 0, nil
		}
		return KindRegular, notSocket, 0, nil
	}
	return KindOther, notSocket, 0, nil
}

// datagramProtocol reports whether a datagram socket is one the net
// package serves as what its address claims: a unix socket, or UDP (or
// UDP-Lite) on an inet one, and not, say, an ICMP "ping" socket, which
// has inet addresses too. Where the protocol cannot be asked, it is
// assumed to be served.
func datagramProtocol(fd int) bool {
	if soProtocol == 0 {
		return true
	}
	p, err := socketOption(fd, soProtocol)
	if err != nil {
		return true
	}
	return p == 0 || p == unix.IPPROTO_UDP || p == ipprotoUDPLite
}

// ipprotoUDPLite is IPPROTO_UDPLITE, where the system has UDP-Lite.
const ipprotoUDPLite = 136
