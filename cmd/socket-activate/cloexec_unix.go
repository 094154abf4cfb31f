//go:build unix

package main

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxScannedFD bounds the last way markInheritedCloseOnExec has of finding
// open fds: trying every fd below the fd limit, which Go raises to the
// hard limit, possibly millions.
const maxScannedFD = 1 << 20

// markInheritedCloseOnExec marks every fd from 3 up close-on-exec, so that
// an fd this process inherited (7</etc/hostname from a shell, say) reaches
// no program it starts: a program gets stdin, stdout, stderr and the fds
// passed to it explicitly, nothing else. Fds this process opens are
// close-on-exec already, and fds it passes on are duplicated into place
// as the program starts, so marking them does no harm.
//
// It asks the kernel to mark them all at once where it can
// (close_range(CLOSE_RANGE_CLOEXEC), Linux 5.11), else marks each fd that
// /proc/self/fd or /dev/fd lists, where the list is complete, else each
// fd below the fd limit (at most maxScannedFD).
func markInheritedCloseOnExec() {
	if markAllCloseOnExec() || markListed("/proc/self/fd") || markListed("/dev/fd") {
		return
	}
	markBelowLimit()
}

// markListed marks close-on-exec every fd from 3 up that dir lists, if
// its list is complete, and reports whether it was.
func markListed(dir string) bool {
	fds, ok := listFDs(dir)
	if !ok {
		return false
	}
	for _, fd := range fds {
		if fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
	return true
}

// markBelowLimit marks close-on-exec every fd from 3 up to the fd limit,
// or maxScannedFD.
func markBelowLimit() {
	limit := uint64(maxScannedFD)
	var rl unix.Rlimit
	// Cur is signed on some systems and unsigned on others.
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && uint64(rl.Cur) < limit {
		limit = uint64(rl.Cur)
	}
	for fd := 3; fd < int(limit); fd++ {
		unix.CloseOnExec(fd)
	}
}

// listFDs returns the open fds that dir lists, and whether the list is
// complete: it must hold the fd that reads it. (FreeBSD's /dev/fd shows
// only 0, 1 and 2 unless fdescfs is mounted there.)
func listFDs(dir string) ([]int, bool) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, false
	}
	fds := make([]int, 0, len(names))
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, slices.Contains(fds, int(f.Fd()))
}
