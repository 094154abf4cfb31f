//go:build unix

package main

import (
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

func TestEveryWayOfMarkingInheritedFDsMarksThem(t *testing.T) {
	ways := []struct {
		name string
		mark func() bool
		// where says on which systems the way must work; elsewhere it may
		// report that it cannot.
		where bool
	}{
		{"close_range(CLOSE_RANGE_CLOEXEC)", markAllCloseOnExec, runtime.GOOS == "linux"},
		{"the fds /proc/self/fd lists", func() bool { return markListed("/proc/self/fd") }, runtime.GOOS == "linux"},
		{"the fds /dev/fd lists", func() bool { return markListed("/dev/fd") }, runtime.GOOS == "linux" || runtime.GOOS == "darwin"},
		{"every fd below the limit", func() bool { markBelowLimit(); return true }, true},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			fd := inheritedLike(t)
			if !w.mark() {
				if w.where {
					t.Fatalf("cannot mark fds this way on %s", runtime.GOOS)
				}
				t.Skipf("this way is not available on %s", runtime.GOOS)
			}
			if !closeOnExec(t, fd) {
				t.Errorf("fd %d is not close-on-exec", fd)
			}
			if closeOnExec(t, 0) || closeOnExec(t, 2) {
				t.Errorf("stdin or stderr marked close-on-exec")
			}
		})
	}
}

func TestAnIncompleteFDListIsNotTrusted(t *testing.T) {
	// A directory of fd names that does not list the fd reading it, as
	// FreeBSD's /dev/fd without fdescfs lists only 0, 1 and 2.
	dir := t.TempDir()
	for _, name := range []string{"0", "1", "2"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fd := inheritedLike(t)
	if markListed(dir) {
		t.Errorf("markListed(%s) trusted a list without its own fd", dir)
	}
	if closeOnExec(t, fd) {
		t.Errorf("fd %d marked from an incomplete list", fd)
	}
}
