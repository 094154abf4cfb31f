//go:build unix && !linux

package notify

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// msgNoSignal is 0: outside Linux there is no MSG_NOSIGNAL, and the Go
// runtime turns SIGPIPE on a socket into EPIPE.
const msgNoSignal = 0

// resolve turns a parsed NOTIFY_SOCKET into a socket address and types. Only
// file system sockets exist outside Linux.
func resolve(a address) (target, error) {
	switch a.kind {
	case kindPath:
		return target{family: unix.AF_UNIX, sa: &unix.SockaddrUnix{Name: a.name}, types: []int{unix.SOCK_DGRAM}}, nil
	case kindAbstract:
		return target{}, fmt.Errorf("notify: NOTIFY_SOCKET %q: abstract socket names need linux, not %s: %w", a.name, runtime.GOOS, errors.ErrUnsupported)
	default:
		return target{}, fmt.Errorf("notify: NOTIFY_SOCKET names a vsock address: AF_VSOCK needs linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
	}
}

// socketCloexec creates a socket and marks it close-on-exec under
// syscall.ForkLock, since not every system here has SOCK_CLOEXEC.
func socketCloexec(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

// bindPrivilegedPort is never called: there is no AF_VSOCK here.
func bindPrivilegedPort(int) error { return nil }

// credentials returns nil: SCM_CREDENTIALS is Linux's.
func credentials() []byte { return nil }
