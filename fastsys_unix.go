//go:build unix && !linux

package activation

import (
	"os"

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
