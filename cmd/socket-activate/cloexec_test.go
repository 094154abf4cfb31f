//go:build unix

package main

import (
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

// Every fd from 3 up is marked, and standard input, output and error are
// not. (internal/cloexec tests each way of marking.)
func TestInheritedFDsAreMarkedAndTheStandardOnesNot(t *testing.T) {
	fd := inheritedLike(t)
	markInheritedCloseOnExec()
	if !closeOnExec(t, fd) {
		t.Errorf("fd %d is not close-on-exec", fd)
	}
	for _, std := range []int{0, 1, 2} {
		if closeOnExec(t, std) {
			t.Errorf("fd %d marked close-on-exec", std)
		}
	}
}
