//go:build unix

package cloexec

import (
	"math"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// inheritedLike returns a new fd that is not close-on-exec, as an
// inherited one is, closed by the test's cleanup.
func inheritedLike(t *testing.T) int {
	t.Helper()
	fd, err := unix.Dup(0) // dup(2) never sets FD_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if closeOnExec(t, fd) {
		t.Fatalf("fd %d from dup is close-on-exec already", fd)
	}
	return fd
}

func closeOnExec(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

// Each way marks the fds of the range, and none outside it.
func TestEveryWayMarksTheRangeAndNothingElse(t *testing.T) {
	ways := []struct {
		name string
		mark func(first, last int) bool
		// where says on which systems the way must work; elsewhere it may
		// report that it cannot.
		where bool
	}{
		{"close_range(CLOSE_RANGE_CLOEXEC)", markAll, runtime.GOOS == "linux"},
		{"the fds /proc/self/fd lists", func(first, last int) bool { return markListed("/proc/self/fd", first, last) }, runtime.GOOS == "linux"},
		{"the fds /dev/fd lists", func(first, last int) bool { return markListed("/dev/fd", first, last) }, runtime.GOOS == "linux" || runtime.GOOS == "darwin"},
		{"every fd below the limit", func(first, last int) bool { markEach(first, last); return true }, true},
		{"MarkRange", func(first, last int) bool { MarkRange(first, last); return true }, true},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			// Three fds, the range the middle one and what lies between
			// it and the others: below and above must stay as they are.
			below, in, above := inheritedLike(t), inheritedLike(t), inheritedLike(t)
			if !(below < in && in < above) {
				t.Fatalf("fds %d, %d, %d not in increasing order", below, in, above)
			}
			if !w.mark(below+1, above-1) {
				if w.where {
					t.Fatalf("cannot mark fds this way on %s", runtime.GOOS)
				}
				t.Skipf("this way is not available on %s", runtime.GOOS)
			}
			if !closeOnExec(t, in) {
				t.Errorf("fd %d, in the range %d … %d, is not close-on-exec", in, below+1, above-1)
			}
			for _, fd := range []int{0, 2, below, above} {
				if closeOnExec(t, fd) {
					t.Errorf("fd %d, outside the range %d … %d, was marked close-on-exec", fd, below+1, above-1)
				}
			}
		})
	}
}

// A range to the largest int, as "every fd from 3 up" is, is no trouble
// for any way.
func TestARangeToTheLargestFD(t *testing.T) {
	below, fd := inheritedLike(t), inheritedLike(t)
	MarkRange(below+1, math.MaxInt)
	if !closeOnExec(t, fd) {
		t.Errorf("fd %d is not close-on-exec", fd)
	}
	if closeOnExec(t, below) {
		t.Errorf("fd %d, below the range, was marked close-on-exec", below)
	}
	fd = inheritedLike(t)
	markEach(fd, math.MaxInt)
	if !closeOnExec(t, fd) {
		t.Errorf("markEach: fd %d is not close-on-exec", fd)
	}
}

func TestAnEmptyRangeMarksNothing(t *testing.T) {
	fd := inheritedLike(t)
	MarkRange(fd, fd-1)
	MarkRange(-1, -1)
	if closeOnExec(t, fd) {
		t.Errorf("fd %d marked by an empty range", fd)
	}
}

func TestAnIncompleteFDListIsNotTrusted(t *testing.T) {
	// A directory of fd names that does not list the fd reading it, as
	// FreeBSD's /dev/fd without fdescfs lists only 0, 1 and 2.
	dir := t.TempDir()
	fd := inheritedLike(t)
	for _, name := range []string{"0", "1", "2"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if markListed(dir, 0, math.MaxInt) {
		t.Errorf("markListed(%s) trusted a list without its own fd", dir)
	}
	if closeOnExec(t, fd) {
		t.Errorf("fd %d marked from an incomplete list", fd)
	}
}
