package activation

import "syscall"

// dupCloseOnExec duplicates fd and marks the copy close-on-exec, holding
// syscall.ForkLock between the two as AIX has no F_DUPFD_CLOEXEC.
func dupCloseOnExec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(nfd)
	}
	return nfd, err
}
