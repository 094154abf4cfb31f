//go:build unix

package cloexec

import (
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxScanned bounds the last way MarkRange has of finding open fds:
// trying each fd of the range below the fd limit, which the Go runtime
// raises to the hard limit, possibly millions.
const maxScanned = 1 << 20

// MarkRange sets FD_CLOEXEC on every open fd from first to last, and on
// no other fd. It asks the kernel to mark them all at once where it can
// (close_range with CLOSE_RANGE_CLOEXEC, Linux 5.11), else marks each fd
// of the range that /proc/self/fd or /dev/fd lists, where the list is
// complete, else tries each fd of the range below the fd limit (at most
// the first 1<<20 fds).
func MarkRange(first, last int) {
	if first < 0 || last < first {
		return
	}
	if markAll(first, last) || markListed("/proc/self/fd", first, last) || markListed("/dev/fd", first, last) {
		return
	}
	markEach(first, last)
}

// markListed marks every fd of first … last that dir lists, if the list
// is complete, and reports whether it was.
func markListed(dir string, first, last int) bool {
	fds, ok := listFDs(dir)
	if !ok {
		return false
	}
	for _, fd := range fds {
		if fd >= first && fd <= last {
			unix.CloseOnExec(fd)
		}
	}
	return true
}

// markEach tries every fd of first … last below the fd limit, and below
// maxScanned.
func markEach(first, last int) {
	limit := uint64(maxScanned)
	var rl unix.Rlimit
	// Cur is signed on some systems and unsigned on others.
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && uint64(rl.Cur) < limit {
		limit = uint64(rl.Cur)
	}
	if uint64(last) >= limit {
		last = int(limit) - 1
	}
	for fd := first; fd <= last; fd++ {
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
