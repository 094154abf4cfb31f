//go:build linux

package main

import "golang.org/x/sys/unix"

// kcmpFile is KCMP_FILE from <linux/kcmp.h>.
const kcmpFile = 0

// sameFile reports whether fds a and b share one open file description
// (one is a dup of the other, or both were received from one), as
// systemd's same_fd decides it: F_DUPFD_QUERY (Linux 6.10), else
// kcmp(KCMP_FILE) (which seccomp filters or a missing
// CONFIG_CHECKPOINT_RESTORE may forbid), else sameFileByStat.
func sameFile(a, b int) (bool, error) {
	if r, err := unix.FcntlInt(uintptr(a), unix.F_DUPFD_QUERY, b); err == nil {
		return r > 0, nil
	}
	pid := uintptr(unix.Getpid())
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(a), uintptr(b), 0)
	if errno == 0 {
		return r == 0, nil
	}
	return sameFileByStat(a, b)
}
