//go:build freebsd

package main

import "syscall"

// deathSignalAttr returns the attributes that have the kernel send sig to
// a process socket-activate starts when socket-activate exits.
func deathSignalAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}

// keepDeathSignal reports that the shim's parent still runs: FreeBSD
// holds the parent-death signal per process and keeps it across exec, so
// the shim has nothing to do. Had the parent exited before the fork set
// it, the fork would have sent the signal at once.
func keepDeathSignal(sig syscall.Signal, parent int) bool { return true }
