//go:build unix && !aix

package activation

import "golang.org/x/sys/unix"

// dupCloseOnExec duplicates fd, close-on-exec from the start.
func dupCloseOnExec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}
