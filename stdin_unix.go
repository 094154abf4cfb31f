//go:build unix

package activation

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// stdin is standard input as an inherited socket: claimed once.
var stdin struct {
	mu      sync.Mutex
	claimed bool
}

// stdinFD classifies fd 0 as the package classifies inherited fds.
func stdinFD() (inheritedFD, error) {
	e := inheritedFD{fd: 0, name: "stdin"}
	var err error
	if e.kind, e.class, e.sotype, err = classify(0); err != nil {
		return e, fmt.Errorf("activation: standard input: %w", err)
	}
	return e, nil
}

func stdinInfo() (Info, error) {
	readOnce()
	stdin.mu.Lock()
	defer stdin.mu.Unlock()
	e, err := stdinFD()
	if err != nil {
		return Info{}, err
	}
	e.claimed = stdin.claimed
	return e.info(), nil
}

// takeStdin converts standard input with c if it is of c's kind, and
// claims it.
func takeStdin[T io.Closer](c conversion[T]) (T, error) {
	var zero T
	readOnce()
	stdin.mu.Lock()
	defer stdin.mu.Unlock()
	if stdin.claimed {
		return zero, fmt.Errorf("activation: standard input was taken already")
	}
	e, err := stdinFD()
	if err != nil {
		return zero, err
	}
	if !c.fits(&e) {
		return zero, fmt.Errorf("activation: standard input is not a %s: %s", c.what, e.info())
	}
	v, err := c.convert(&e, os.Stdin)
	if err == errNotServable {
		return zero, fmt.Errorf("activation: the net package cannot serve standard input, %s, as a %s", e.info().noun(), c.what)
	}
	if err != nil {
		return zero, err
	}
	if err := detachStdio(); err != nil {
		v.Close()
		return zero, fmt.Errorf("activation: standard input: %w", err)
	}
	stdin.claimed = true
	return v, nil
}

// detachStdio points fd 0, and fds 1 and 2 when they are the same socket
// (as systemd passes them with StandardInput=socket, and inetd), at
// /dev/null, so that the socket is held only by the value made of it.
func detachStdio() error {
	var in unix.Stat_t
	if err := unix.Fstat(0, &in); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	same := []int{0}
	for _, fd := range []int{1, 2} {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Dev == in.Dev && st.Ino == in.Ino {
			same = append(same, fd)
		}
	}
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	defer unix.Close(null)
	for _, fd := range same {
		if err := unix.Dup2(null, fd); err != nil {
			return os.NewSyscallError("dup2", err)
		}
	}
	return nil
}
