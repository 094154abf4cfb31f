//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/go-activation/activation/internal/sdnum"
	"golang.org/x/sys/unix"
)

// This file is the manager's side of the notification protocol: what
// systemd does with a Type=notify service's messages, for one program run
// after another. The warnings quote systemd's own.

// service is the program's current run as a service manager sees it: the
// state systemctl status shows and the deadlines that stop it. n.mu
// guards it.
type service struct {
	pid      int    // the main process; 0 when no program runs
	started  int    // the process socket-activate started
	pgid     int    // the process group it started in
	active   string // as systemctl status shows it: "active (running)"
	notified string // the last of READY=1, RELOADING=1, STOPPING=1: "ready", "reloading", "stopping"
	status   string // STATUS=
	errno    int    // ERRNO=, -1 for none
	exit     int    // EXIT_STATUS=, -1 for none
	result   string // why the notifier stopped it: "timeout", "watchdog"; "" while it has not

	startDeadline    time.Time     // READY=1 is due; zero when not
	watchdogInterval time.Duration // 0 for no watchdog
	watchdogDeadline time.Time     // WATCHDOG=1 is due; zero when not armed
}

// idle is the service when no program runs.
func idle() service {
	return service{errno: -1, exit: -1}
}

// stopRequest asks the activator to stop the program with sig, and
// after a grace period with SIGKILL.
type stopRequest struct {
	sig syscall.Signal
}

// origin is who sent a message, as the kernel tells it.
type origin struct {
	pid, uid int
	known    bool // the message came with credentials
}

// notifyKillGrace is how long a program that the notifier asked to stop
// may take after the signal before it gets SIGKILL, as after SIGTERM for
// a restart (systemd's TimeoutStopSec= and TimeoutAbortSec=). A variable
// for the tests.
var notifyKillGrace = stopTimeout

// errStoreFull is returned by keep when the store holds --fdstore-max fds.
var errStoreFull = errors.New("fd store full")

// line prints a line on standard error. n.mu must be held.
func (n *notifier) line(format string, args ...any) {
	fmt.Fprintf(n.stderr, "socket-activate: "+format+"\n", args...)
}

// warning prints a warning. n.mu must be held.
func (n *notifier) warning(format string, args ...any) {
	n.line("warning: "+format, args...)
}

// setActive changes the state systemctl status shows as Active: and
// prints it, if it changed.
func (n *notifier) setActive(state string) {
	if n.svc.active != state {
		n.svc.active = state
		n.line("Active: %s", state)
	}
}

// started follows a program's start, whose pid is pid: it becomes the
// main process, and the start timeout runs. n.mu must be held.
func (n *notifier) started(pid int) {
	pgid, err := unix.Getpgid(pid)
	if err != nil {
		pgid = pid
	}
	last := n.svc.active
	n.svc = idle()
	n.svc.pid, n.svc.started, n.svc.pgid, n.svc.active = pid, pid, pgid, last
	n.svc.watchdogInterval = n.cfg.watchdog
	if n.cfg.startTimeout > 0 {
		n.svc.startDeadline = time.Now().Add(n.cfg.startTimeout)
	}
	select {
	case <-n.stops: // a request of the last run that came too late
	default:
	}
	n.wake()
}

// stopping tells the notifier that socket-activate is stopping the
// program itself (SIGINT, SIGTERM, or SIGHUP with --restart): the start
// timeout and the watchdog stop, as they do in systemd once a service
// is being stopped.
func (n *notifier) stopping() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.svc.pid != 0 && n.svc.result == "" {
		n.svc.startDeadline, n.svc.watchdogDeadline = time.Time{}, time.Time{}
		n.setActive("deactivating (stop-sigterm)")
	}
}

// ended ends the run of a program that exited with ps, after handling the
// messages it sent before it exited, and prints how it ended. It reports
// whether the notifier had stopped it (start timeout, watchdog): the run
// failed whatever its exit status.
func (n *notifier) ended(ps *os.ProcessState) (stopped bool) {
	n.drain()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.svc.pid == 0 {
		return false
	}
	result := n.svc.result
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && result == "" {
		switch {
		case ws.Exited() && ws.ExitStatus() != 0:
			result = "exit-code"
		case ws.Signaled() && ws.CoreDump():
			result = "core-dump"
		case ws.Signaled():
			// The signals that end a service cleanly, for systemd.
			switch ws.Signal() {
			case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE:
			default:
				result = "signal"
			}
		}
	}
	if result == "" {
		n.setActive("inactive (dead)")
	} else {
		n.setActive("failed (Result: " + result + ")")
	}
	stopped = n.svc.result != ""
	last := n.svc.active
	n.svc = idle()
	n.svc.active = last
	n.wake()
	return stopped
}

// strayMain returns the main process when MAINPID= made it one outside
// the process group of the program socket-activate started, else 0.
func (n *notifier) strayMain() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.svc; s.pid != s.started {
		if pgid, err := unix.Getpgid(s.pid); err != nil || pgid != s.pgid {
			return s.pid
		}
	}
	return 0
}

// handle acts on one message from from, with the fds it carried, of
// which it takes ownership.
func (n *notifier) handle(msg []byte, fds []int, from origin) {
	if strings.IndexByte(string(msg), 0) >= 0 {
		n.warning("Received notify message with embedded NUL bytes, ignoring.")
		closeFDs(fds)
		return
	}
	tags := strings.Split(strings.TrimSuffix(string(msg), "\n"), "\n")
	// A barrier is answered by closing its fd, whoever sent it: systemd's
	// manager does so before it looks for the service.
	if hasTag(tags, "BARRIER=1") {
		switch {
		case len(tags) != 1:
			n.warning("Extra notification messages sent with BARRIER=1, ignoring everything.")
		case len(fds) != 1:
			n.warning("Got incorrect number of fds with BARRIER=1, closing them.")
		}
		closeFDs(fds)
		return
	}
	if !n.allowed(from) {
		closeFDs(fds)
		return
	}
	if n.svc.pid != 0 {
		n.update(tags, from)
	}
	if fds = n.updateStore(tags, fds); len(fds) > 0 {
		n.warning("%d fds sent without FDSTORE=1 closed", len(fds))
		closeFDs(fds)
	}
}

// allowed reports whether --notify-access lets from notify, and warns
// when it does not. There are no control processes (ExecStartPre= and
// the like) here, so "exec" allows what "main" does.
func (n *notifier) allowed(from origin) bool {
	switch {
	case !n.creds || n.cfg.access == "all" && from.known:
		return true
	case !from.known:
		n.warning("Received notify message without valid credentials. Ignoring.")
		return false
	case n.svc.pid != 0 && from.pid == n.svc.pid:
		return true
	case n.svc.pid != 0:
		n.warning("Got notification message from PID %d, but reception only permitted for main PID %d", from.pid, n.svc.pid)
	case n.cfg.access == "exec":
		n.warning("Got notification message from PID %d, but reception only permitted for main PID and control PID which are currently not known", from.pid)
	default:
		n.warning("Got notification message from PID %d, but reception only permitted for main PID which is currently not known", from.pid)
	}
	return false
}

// hasTag reports whether tags holds tag.
func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// tagValue returns the value of the first assignment to key in tags.
func tagValue(tags []string, key string) (string, bool) {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// update acts on the assignments that describe the program's state, in
// systemd's order. n.mu must be held and a program running.
func (n *notifier) update(tags []string, from origin) {
	s := &n.svc
	if v, ok := tagValue(tags, "MAINPID"); ok {
		n.setMainPID(v, from)
	}
	if v, ok := tagValue(tags, "MONOTONIC_USEC"); ok {
		if _, err := sdnum.ParseUint64(v); err != nil {
			n.warning("Failed to parse MONOTONIC_USEC= field in notification message, ignoring: %s", v)
		}
	}
	// STOPPING=1 wins over READY=1, and READY=1 over RELOADING=1; a
	// service that said it stops does not come back.
	switch {
	case s.result != "":
	case hasTag(tags, "STOPPING=1"):
		s.notified = "stopping"
		s.startDeadline, s.watchdogDeadline = time.Time{}, time.Time{}
		n.setActive("deactivating (stop-sigterm)")
	case s.notified == "stopping":
	case hasTag(tags, "READY=1"):
		s.notified = "ready"
		if s.active == "activating (start)" {
			s.startDeadline = time.Time{}
			n.resetWatchdog()
		}
		n.setActive("active (running)")
	case hasTag(tags, "RELOADING=1"):
		s.notified = "reloading"
		if s.active == "active (running)" {
			n.setActive("reloading (reload)")
		}
	}
	if v, ok := tagValue(tags, "STATUS"); ok {
		if !utf8.ValidString(v) {
			n.warning("Status message in notification message is not UTF-8 clean, ignoring.")
			v = ""
		}
		if v != s.status {
			s.status = v
			n.line("Status: %q", v)
		}
	}
	if v, ok := tagValue(tags, "ERRNO"); ok {
		if e, err := sdnum.ParseInt(v); err != nil || e < 0 {
			n.warning("Failed to parse ERRNO= field value '%s' in notification message", v)
		} else if e != s.errno {
			s.errno = e
			n.line("Error: %d (%s)", e, errnoText(e))
		}
	}
	if v, ok := tagValue(tags, "EXIT_STATUS"); ok {
		// systemd reads it only from itself; it shows here, and the exit
		// status remains the program's own.
		if e, err := sdnum.ParseInt(v); err != nil || e < 0 || e > 255 {
			n.warning("Failed to parse EXIT_STATUS=%s", v)
		} else if e != s.exit {
			s.exit = e
			n.line("Exit status: %d", e)
		}
	}
	if v, ok := tagValue(tags, "EXTEND_TIMEOUT_USEC"); ok {
		if usec, err := sdnum.ParseUint64(v); err != nil {
			n.warning("Failed to parse EXTEND_TIMEOUT_USEC=%s", v)
		} else {
			n.extendTimeouts(usec)
		}
	}
	if v, ok := tagValue(tags, "WATCHDOG"); ok {
		switch v {
		case "1":
			n.resetWatchdog()
		case "trigger":
			status := s.status
			if status == "" {
				status = "<unset>"
			}
			n.fail("watchdog", unix.SIGABRT, "Watchdog request (last status: "+status+")!")
		default:
			n.warning("Passed WATCHDOG= field is invalid, ignoring.")
		}
	}
	if v, ok := tagValue(tags, "WATCHDOG_USEC"); ok {
		if usec, err := sdnum.ParseUint64(v); err != nil {
			n.warning("Failed to parse WATCHDOG_USEC=%s", v)
		} else {
			s.watchdogInterval = usecDuration(usec)
			s.watchdogDeadline = time.Time{}
			n.resetWatchdog()
		}
	}
}

// usecDuration turns microseconds into a duration; 0 for 0, and for
// infinity (the largest value) or anything a duration cannot hold, which
// no timer would reach.
func usecDuration(usec uint64) time.Duration {
	if usec >= uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}

// errnoText is the text of error number e, as strerror gives it.
func errnoText(e int) string {
	if e == 0 {
		return "Success"
	}
	text := syscall.Errno(e).Error()
	if text == "" {
		return "Unknown error"
	}
	return strings.ToUpper(text[:1]) + text[1:]
}

// setMainPID acts on MAINPID=v: the process it names becomes the main
// process if it exists and belongs to the program (its process group),
// or if root asked.
func (n *notifier) setMainPID(v string, from origin) {
	pid, err := sdnum.ParsePID(v)
	switch {
	case err != nil:
		n.warning("Failed to parse MAINPID=%s field in notification message, ignoring: %v", v, err)
		return
	case pid == n.svc.pid:
		return
	case pid == os.Getpid():
		n.warning("New main PID %d is the manager itself, refusing.", pid)
		return
	case unix.Kill(pid, 0) == unix.ESRCH:
		n.warning("New main PID %d does not exist or is a zombie.", pid)
		return
	}
	if pgid, err := unix.Getpgid(pid); (err != nil || pgid != n.svc.pgid) && !(from.known && from.uid == 0) {
		n.warning("New main PID %d does not belong to service, refusing.", pid)
		return
	}
	n.svc.pid = pid
	n.line("Main PID: %d", pid)
}

// resetWatchdog restarts the watchdog's interval, if there is a watchdog
// and the program is not being stopped.
func (n *notifier) resetWatchdog() {
	s := &n.svc
	if s.watchdogInterval > 0 && s.result == "" && s.notified != "stopping" {
		s.watchdogDeadline = time.Now().Add(s.watchdogInterval)
	}
}

// extendTimeouts acts on EXTEND_TIMEOUT_USEC=usec: the start timeout and
// the watchdog, when running, fire no earlier than usec from now.
func (n *notifier) extendTimeouts(usec uint64) {
	if usec == 0 || usec == 1<<64-1 {
		return
	}
	d := usecDuration(usec)
	if d == 0 || d > 100*365*24*time.Hour {
		d = 100 * 365 * 24 * time.Hour
	}
	extended := time.Now().Add(d)
	for _, deadline := range []*time.Time{&n.svc.startDeadline, &n.svc.watchdogDeadline} {
		if !deadline.IsZero() && deadline.Before(extended) {
			*deadline = extended
		}
	}
}

// fail stops the program for result, with sig first: it says why, and
// asks the activator to send the signals. n.mu must be held.
func (n *notifier) fail(result string, sig syscall.Signal, why string) {
	s := &n.svc
	if s.pid == 0 || s.result != "" {
		return
	}
	s.result = result
	s.startDeadline, s.watchdogDeadline = time.Time{}, time.Time{}
	n.line("%s", why)
	if sig == unix.SIGABRT {
		n.setActive("deactivating (stop-watchdog)")
	} else {
		n.setActive("deactivating (stop-sigterm)")
	}
	select {
	case n.stops <- stopRequest{sig: sig}:
	default:
	}
}

// untilDeadline returns the milliseconds until the next deadline, for
// poll, or -1 when none is set. n.mu must be held.
func (n *notifier) untilDeadline() int {
	next := time.Time{}
	for _, d := range []time.Time{n.svc.startDeadline, n.svc.watchdogDeadline} {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return -1
	}
	left := time.Until(next)
	if left <= 0 {
		return 0
	}
	return int((left + time.Millisecond - 1) / time.Millisecond)
}

// checkDeadlines fires the start timeout and the watchdog when due.
func (n *notifier) checkDeadlines() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	now := time.Now()
	s := &n.svc
	if !s.startDeadline.IsZero() && !now.Before(s.startDeadline) {
		n.fail("timeout", unix.SIGTERM, "start operation timed out. Terminating.")
	}
	if !s.watchdogDeadline.IsZero() && !now.Before(s.watchdogDeadline) {
		n.fail("watchdog", unix.SIGABRT, "Watchdog timeout (limit "+formatTimespan(s.watchdogInterval)+")!")
	}
}

// updateStore acts on FDSTOREREMOVE=1 and FDSTORE=1 and returns the fds
// it did not take.
func (n *notifier) updateStore(tags []string, fds []int) []int {
	name, named := tagValue(tags, "FDNAME")
	switch {
	case hasTag(tags, "FDSTOREREMOVE=1"):
		if !named || !validFDName(name) {
			n.warning("FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring.")
		} else {
			n.remove(name)
		}
		return fds
	case !hasTag(tags, "FDSTORE=1"):
		return fds
	}
	if named && !validFDName(name) {
		n.warning("Passed FDNAME= name is invalid, ignoring.")
		named = false
	}
	if !named {
		name = "stored"
	}
	poll := !hasTag(tags, "FDPOLL=0")
	for i, fd := range fds {
		err := n.keep(fd, name, poll)
		switch {
		case errors.Is(err, errStoreFull):
			n.warning("Cannot store more fds than --fdstore-max=%d, closing remaining.", n.cfg.storeMax)
		case err != nil:
			n.warning("fd store: %v", err)
		default:
			continue
		}
		closeFDs(fds[i+1:]) // keep closed fds[i]
		break
	}
	return nil
}

// The activator's side.

// notifyStops returns the channel on which the notifier asks to stop the
// program, or nil (which never delivers) without --notify.
func (a *activator) notifyStops() <-chan stopRequest {
	if a.notif == nil {
		return nil
	}
	return a.notif.stops
}

// stopRequested stops the program cmd as the notifier asked: the signal
// goes to its process group, and to a main process that MAINPID= named
// outside that group.
func (a *activator) stopRequested(cmd *exec.Cmd, req stopRequest) {
	name := filepath.Base(a.prog)
	pid := cmd.Process.Pid
	fmt.Fprintf(a.stderr, "socket-activate: Killing process %d (%s) with signal %s.\n", pid, name, unix.SignalName(req.sig))
	signalGroup(pid, req.sig)
	if main := a.notif.strayMain(); main != 0 {
		fmt.Fprintf(a.stderr, "socket-activate: Killing process %d with signal %s.\n", main, unix.SignalName(req.sig))
		unix.Kill(main, req.sig)
	}
}

// notifyStopping tells the notifier that socket-activate stops the
// program itself.
func (a *activator) notifyStopping() {
	if a.notif != nil {
		a.notif.stopping()
	}
}

// runEnded ends a run of the program, which exited with ps, and returns
// its exit status for socket-activate: the program's, or 1 if it exited
// with 0 after the notifier had it stopped, since the run failed.
func (a *activator) runEnded(ps *os.ProcessState) int {
	status := exitStatus(ps)
	if a.notif != nil && a.notif.ended(ps) && status == 0 {
		status = 1
	}
	return status
}
