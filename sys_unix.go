//go:build unix && !linux

package activation

import (
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdFlags returns fd's flags (F_GETFD).
func fdFlags(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
}

// socketOption returns the integer socket option opt of fd (SOL_SOCKET).
func socketOption(fd, opt int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
}

// closeFD closes an inherited fd whose socket a value of the package
// holds through another fd.
func closeFD(fd int) error {
	return os.NewSyscallError("close", unix.Close(fd))
}

// haveDupOnto: this system has no dup3, so no carrier is used.
const haveDupOnto = false

func dupOnto(from, to int) error { return errors.ErrUnsupported }

// dupTakesForkLock: duplicating an fd close-on-exec takes syscall.ForkLock
// where there is no F_DUPFD_CLOEXEC (AIX), in the net package as here.
const dupTakesForkLock = syscall.F_DUPFD_CLOEXEC == 0

// dupCloseOnExec duplicates fd, close-on-exec from the start where the
// system can (F_DUPFD_CLOEXEC); else it marks the copy, holding
// syscall.ForkLock between the two.
func dupCloseOnExec(fd int) (int, error) {
	if !dupTakesForkLock {
		return unix.FcntlInt(uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}

// soProtocol is 0: the protocol of a socket is asked only on Linux, the
// one system where it tells an ICMP datagram socket from a UDP one (macOS
// has ICMP datagram sockets too, and no SO_PROTOCOL).
const soProtocol = 0

// ownPidfdID reports that this system has no pidfds, so LISTEN_PIDFDID is
// parsed but not compared, as libsystemd does where it cannot learn the id.
func ownPidfdID() (uint64, bool) { return 0, false }

// isMessageQueue reports false: POSIX message queues are not files here.
func isMessageQueue(fd int) bool { return false }

// unnamed returns a as it is: here an unnamed unix socket's name is empty.
func unnamed(fd int, peer bool, a net.Addr) net.Addr { return a }

// socketBoundTo reports that this system cannot tell which file a unix
// socket is bound to.
func socketBoundTo(sock, wantDev, wantIno uint64) (match, known bool) { return false, false }
