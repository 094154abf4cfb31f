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
	info := e.info()
	info.Claimed = stdin.claimed
	return info, nil
}

// takeStdin converts standard input with convert if fits says it is of
// the wanted kind, what, and claims it.
func takeStdin[T io.Closer](fits func(*inheritedFD) bool, convert converter[T], what string) (T, error) {
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
	if !fits(&e) {
		return zero, fmt.Errorf("activation: standard input is not a %s: %s", what, e.info())
	}
	v, err := convert(&e, os.Stdin)
	if err == errNotServable {
		return zero, fmt.Errorf("activation: standard input is a %s socket, which the net package cannot serve as a %s", e.network(), what)
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

// detachStdio points fd 0, and fd 1 when it is the same socket, at
// /dev/null, so that the socket is held only by the value made of it.
func detachStdio() error {
	var in, out unix.Stat_t
	if err := unix.Fstat(0, &in); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	sameOut := unix.Fstat(1, &out) == nil && out.Dev == in.Dev && out.Ino == in.Ino
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	defer unix.Close(null)
	if err := unix.Dup2(null, 0); err != nil {
		return os.NewSyscallError("dup2", err)
	}
	if sameOut {
		if err := unix.Dup2(null, 1); err != nil {
			return os.NewSyscallError("dup2", err)
		}
	}
	return nil
}
