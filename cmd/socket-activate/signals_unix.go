//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// caught are the signals socket-activate catches: to pass them to the
// program, or to act on them itself. They are those that end
// systemd-socket-activate, which becomes the program, and SIGWINCH, which
// the program may want; but SIGPIPE, which Go raises itself for a write to
// a closed standard output or error once no one catches it, and the
// signals that stop a process (socket-activate stops, its program runs
// on). SIGCHLD, SIGURG and SIGPROF are not the program's.
var caught = append([]syscall.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2,
	syscall.SIGALRM, syscall.SIGVTALRM, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGWINCH,
}, moreCaught...)

// harmless reports whether sig does nothing to a process that does not
// catch it: SIGWINCH. While no program runs, socket-activate ignores it
// as systemd-socket-activate does; any other caught signal then ends it.
func harmless(sig syscall.Signal) bool {
	return sig == syscall.SIGWINCH
}

// ignoredAtStart holds the signals socket-activate started with ignored,
// as nohup starts a command with SIGHUP ignored and a shell's & with
// SIGINT: set by catchSignals. Go can tell only for SIGHUP and SIGINT.
var ignoredAtStart = map[syscall.Signal]bool{}

// catchSignals sends the caught signals to c, but those socket-activate
// started with ignored: they stay ignored, in it and in the program,
// which inherits that, and are never passed on.
func catchSignals(c chan<- os.Signal) {
	for _, sig := range caught {
		if signal.Ignored(sig) {
			ignoredAtStart[sig] = true
			continue
		}
		signal.Notify(c, sig)
	}
}

// fromTerminal reports whether sig is a signal the terminal just sent to
// the whole foreground process group, the program included: SIGINT (^C),
// SIGQUIT (^\) or SIGWINCH (a new window size) while socket-activate's
// group is the foreground group of its controlling terminal. The program
// shares socket-activate's group, so it got the signal too, and must not
// get it twice.
func fromTerminal(sig syscall.Signal) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT && sig != syscall.SIGWINCH {
		return false
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer tty.Close()
	rc, err := tty.SyscallConn()
	if err != nil {
		return false
	}
	var fg int
	err = rc.Control(func(fd uintptr) { fg, err = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP) })
	if err != nil {
		return false
	}
	pgid, err := unix.Getpgid(0)
	return err == nil && fg == pgid
}

// ending is how socket-activate ends: with an exit status, or of a signal.
type ending struct {
	code int
	sig  syscall.Signal // if not 0, socket-activate dies of it
}

// exitCode ends with status code.
func exitCode(code int) ending { return ending{code: code} }

// endLike ends as the program ps describes ended: with its status, or of
// the signal that killed it, as systemd-socket-activate, which becomes
// the program, does.
func endLike(ps *os.ProcessState) ending {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ending{sig: ws.Signal()}
	}
	return ending{code: ps.ExitCode()}
}

// status is the status a shell reports for e: the exit status, or 128
// plus the signal's number.
func (e ending) status() int {
	if e.sig != 0 {
		return 128 + int(e.sig)
	}
	return e.code
}

// exit ends this process as e says: with its exit status, or of its
// signal at the signal's default action, unless socket-activate started
// with that signal ignored. Where raiseDefault cannot work, a Go program
// dies only of SIGHUP, SIGINT, SIGTERM or SIGKILL, and exit exits with
// 128 plus the number of another signal, which a shell reports alike.
func exit(e ending) {
	if e.sig != 0 && !ignoredAtStart[e.sig] {
		switch {
		case e.sig == syscall.SIGKILL:
			unix.Kill(os.Getpid(), e.sig)
		case raiseDefault(e.sig):
		case e.sig == syscall.SIGHUP || e.sig == syscall.SIGINT || e.sig == syscall.SIGTERM:
			// Not caught, the Go runtime dies of them.
			signal.Reset(e.sig)
			unix.Kill(os.Getpid(), e.sig)
		default:
			os.Exit(e.status())
		}
		// The signal is on its way to a thread; should it never come,
		// exit with the status it would give.
		time.Sleep(time.Second)
	}
	os.Exit(e.status())
}
