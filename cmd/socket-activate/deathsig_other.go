//go:build unix && !linux && !freebsd

package main

import "syscall"

// deathSignalAttr returns nil: only Linux and FreeBSD send a process a
// signal when its parent dies.
func deathSignalAttr(sig syscall.Signal) *syscall.SysProcAttr { return nil }

// keepDeathSignal does nothing: see deathSignalAttr.
func keepDeathSignal(sig syscall.Signal, parent int) bool { return true }
