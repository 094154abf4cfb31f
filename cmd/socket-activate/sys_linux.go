//go:build linux

package main

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = true

// unixPeerCred returns the process and user of the peer of the unix
// connection fd, as systemd-socket-activate prints them.
func unixPeerCred(fd int) string {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return "n/a"
	}
	return fmt.Sprintf("PID %d/UID %d", cred.Pid, cred.Uid)
}

// moreCaught are the signals socket-activate catches on this system
// besides those of every unix: Linux's SIGPWR, which would end
// systemd-socket-activate.
var moreCaught = []syscall.Signal{unix.SIGPWR}

// diesOfAnySignal: raiseDefault works here, so socket-activate dies of
// every signal as a process that does not catch it.
const diesOfAnySignal = true

// raiseDefault ends the process by sig at its default action, as a process
// that does not catch sig dies of it. The Go runtime catches every signal,
// so the action is set back to the default with a raw rt_sigaction, which
// the runtime does not see, and sig is unblocked and sent to the calling
// thread. It returns false if it could not.
func raiseDefault(sig syscall.Signal) bool {
	runtime.LockOSThread() // never unlocked: the process is ending
	// struct sigaction all zero: SIG_DFL, no flags, an empty mask, in
	// every architecture's layout.
	var act [64]byte
	const sigsetSize = 8 // the kernel's sigset_t where it has 64 signals
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, sigsetSize, 0, 0); e != 0 {
		return false
	}
	set := uint64(1) << (sig - 1)
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, uintptr(unsafe.Pointer(&set)), 0, sigsetSize, 0, 0); e != 0 {
		return false
	}
	return unix.Tgkill(unix.Getpid(), unix.Gettid(), sig) == nil
}
