//go:build unix

package notify

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// target is where and how a message goes.
type target struct {
	family int
	sa     unix.Sockaddr
	// types are the socket types to try in order: the next one only when
	// the socket cannot be created because the type is not supported.
	types []int
	// privilegedPort asks for a bind to a port below 1024 (AF_VSOCK).
	privilegedPort bool
	// awaitClose marks the end of a message on a connected socket by
	// shutting down writing, then waits for the manager to close (AF_VSOCK).
	awaitClose bool
}

// transmit sends msg and the files' descriptors to the manager at a.
func transmit(a address, msg []byte, files []*os.File) error {
	t, err := resolve(a)
	if err != nil {
		return err
	}
	return withFds(files, func(fds []int) error {
		if err := deliver(t, msg, fds); err != nil {
			return fmt.Errorf("notify: sending to %s: %w", describe(a), err)
		}
		return nil
	})
}

// checkSupported reports whether a can be sent to on this system.
func checkSupported(a address) error {
	_, err := resolve(a)
	return err
}

// withFds calls f with the descriptors of files, each held open (and left in
// its blocking mode, unlike File.Fd) until f returns.
func withFds(files []*os.File, f func(fds []int) error) error {
	fds := make([]int, 0, len(files))
	var hold func(i int) error
	hold = func(i int) error {
		if i == len(files) {
			return f(fds)
		}
		rc, err := files[i].SyscallConn()
		if err != nil {
			return fmt.Errorf("notify: file %q: %w", files[i].Name(), err)
		}
		var ferr error
		err = rc.Control(func(fd uintptr) {
			fds = append(fds, int(fd))
			ferr = hold(i + 1)
		})
		if err != nil {
			// Control fails only for a closed file, with an unexported
			// error; report the exported one.
			return fmt.Errorf("notify: file %q: %w", files[i].Name(), os.ErrClosed)
		}
		return ferr
	}
	return hold(0)
}

// deliver opens a socket, sends one message and closes the socket, as
// systemd's pid_notify_with_fds_internal does.
func deliver(t target, msg []byte, fds []int) error {
	fd, typ, err := openSocket(t.family, t.types)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if t.privilegedPort {
		if err := bindPrivilegedPort(fd); err != nil {
			return err
		}
	}
	to := t.sa
	connected := typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET
	if connected {
		if err := unix.Connect(fd, t.sa); err != nil {
			return os.NewSyscallError("connect", err)
		}
		to = nil
	}
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	oob := rights
	creds := credentials()
	if creds != nil {
		oob = append(append([]byte(nil), rights...), creds...)
	}
	n, err := unix.SendmsgN(fd, msg, oob, to, msgNoSignal)
	if err != nil && creds != nil {
		// systemd's fallback: the kernel refused the credentials; let it
		// fill in our own.
		n, err = unix.SendmsgN(fd, msg, rights, to, msgNoSignal)
	}
	if err != nil {
		return os.NewSyscallError("sendmsg", err)
	}
	if typ != unix.SOCK_STREAM && n < len(msg) {
		return fmt.Errorf("sent %d of %d bytes", n, len(msg))
	}
	for rest := msg[n:]; len(rest) > 0; rest = rest[n:] {
		// A stream may take the message in parts; the files went with the
		// first.
		n, err = unix.SendmsgN(fd, rest, nil, nil, msgNoSignal)
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		if n == 0 {
			return fmt.Errorf("sent %d of %d bytes", len(msg)-len(rest), len(msg))
		}
	}
	if t.awaitClose && connected {
		return awaitClose(fd)
	}
	return nil
}

// awaitClose ends a connected message as systemd does for AF_VSOCK: it shuts
// down writing, which marks the end of the message, and waits until the
// manager closes its end.
func awaitClose(fd int) error {
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	var b [1]byte
	for {
		n, _, err := unix.Recvfrom(fd, b[:], msgNoSignal)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("recvfrom", err)
		case n > 0:
			return errors.New("the manager sent data on the notification socket")
		}
		return nil
	}
}

// openSocket creates a close-on-exec socket of the first of types that the
// kernel supports.
func openSocket(family int, types []int) (fd, typ int, err error) {
	for i, typ := range types {
		fd, err := socketCloexec(family, typ)
		if err == nil {
			return fd, typ, nil
		}
		if i == len(types)-1 || !typeUnsupported(err, i == 0) {
			return -1, 0, os.NewSyscallError("socket", err)
		}
	}
	return -1, 0, errors.New("no socket type to try")
}

// typeUnsupported reports the errors after which systemd tries the next
// socket type: ERRNO_IS_NOT_SUPPORTED, and for the first type also ENODEV,
// which QEMU's vsock gives for datagrams.
func typeUnsupported(err error, first bool) bool {
	switch err {
	case unix.EOPNOTSUPP, unix.ENOTTY, unix.ENOSYS, unix.EAFNOSUPPORT, unix.EPFNOSUPPORT,
		unix.EPROTONOSUPPORT, unix.ESOCKTNOSUPPORT, unix.ENOPROTOOPT:
		return true
	case unix.ENODEV:
		return first
	}
	return false
}

// describe names a for error messages.
func describe(a address) string {
	switch a.kind {
	case kindVsock:
		return fmt.Sprintf("vsock CID %d port %d", a.cid, a.port)
	default:
		return fmt.Sprintf("%q", a.name)
	}
}

// closed reports whether f was closed: its raw connection refuses
// Control then.
func closed(f *os.File) bool {
	rc, err := f.SyscallConn()
	return err != nil || rc.Control(func(uintptr) {}) != nil
}
