//go:build linux

package main

import (
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// deathSignalAttr returns the attributes that have the kernel send sig to
// a process socket-activate starts when socket-activate dies.
//
// Linux sends it when the thread that forked the process exits, not the
// process: socket-activate starts programs from goroutines that are never
// locked to a thread, and the Go runtime ends no other thread.
func deathSignalAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}

// keepDeathSignal makes the shim's exec keep the parent-death signal sig,
// which Linux holds per thread: the fork set it on the shim's first
// thread, and the exec may come from another. It locks the calling
// goroutine to its thread for good, sets sig there, and reports whether
// parent, which started the shim, still runs; if it does not, sig would
// never come.
func keepDeathSignal(sig syscall.Signal, parent int) bool {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
		return true // the fork's setting still covers the first thread
	}
	return os.Getppid() == parent
}
