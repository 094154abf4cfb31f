//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/go-activation/activation/internal/fdname"
	"github.com/go-activation/activation/internal/sdnum"
	"golang.org/x/sys/unix"
)

// This file is the manager's side of the notification protocol: what
// systemd does with a Type=notify service's messages, for one program run
// after another, and with --watch for a new build's program that starts
// while the one that runs goes on. The warnings quote systemd's own.

// service is a run of the program as a service manager sees it: the
// state systemctl status shows and the deadlines that stop it. n.mu
// guards it.
type service struct {
	label    string // before its lines: "" for the main process, "new program: " for a new build's before it takes over
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

// stopRequest asks the activator to stop a program with sig, and after a
// grace period with SIGKILL.
type stopRequest struct {
	pid int // the program: the process socket-activate started
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

// setActive changes the state systemctl status shows as Active: for s
// and prints it, if it changed. n.mu must be held.
func (n *notifier) setActive(s *service, state string) {
	if s.active != state {
		s.active = state
		n.line("%sActive: %s", s.label, state)
	}
}

// started follows a program's start, whose pid is pid: it becomes the
// main process, and the start timeout runs. n.mu must be held.
func (n *notifier) started(pid int) {
	last := n.svc.active
	n.svc = idle()
	n.svc.active = last
	n.begin(&n.svc, pid)
	if n.cfg.startTimeout > 0 {
		n.svc.startDeadline = time.Now().Add(n.cfg.startTimeout)
	}
	// Requests of the last run that came too late.
	for stale := true; stale; {
		select {
		case <-n.stops:
		default:
			stale = false
		}
	}
	n.wake()
}

// begin makes the process pid, just started, the main process of s.
// n.mu must be held.
func (n *notifier) begin(s *service, pid int) {
	pgid, err := unix.Getpgid(pid)
	if err != nil {
		pgid = pid
	}
	s.pid, s.started, s.pgid = pid, pid, pgid
	s.watchdogInterval = n.cfg.watchdog
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
		n.setActive(&n.svc, "deactivating (stop-sigterm)")
	}
}

// ended ends the run of a program that exited with ps, after handling the
// messages it sent before it exited, and prints how it ended. It reports
// whether the notifier had stopped it (start timeout, watchdog): the run
// failed whatever its exit status. A program stopped after a switch, or
// one the notifier does not know, ends without a word.
func (n *notifier) ended(ps *os.ProcessState) (stopped bool) {
	n.drain()
	n.mu.Lock()
	defer n.mu.Unlock()
	var s *service
	switch pid := ps.Pid(); {
	case n.svc.pid != 0 && n.svc.started == pid:
		s = &n.svc
	case n.next.pid != 0 && n.next.started == pid:
		s = &n.next
	default:
		delete(n.retiring, pid)
		return false
	}
	result := s.result
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
		n.setActive(s, "inactive (dead)")
	} else {
		n.setActive(s, "failed (Result: "+result+")")
	}
	stopped = s.result != ""
	last, label := s.active, s.label
	*s = idle()
	s.active, s.label = last, label
	n.wake()
	return stopped
}

// switchTo makes the new build's program, started as pid, the main
// process: the one that ran before is being stopped, or has exited, and
// from now on its messages count only for the fd store, and neither its
// start timeout nor its watchdog stops it.
func (n *notifier) switchTo(pid int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.next.pid == 0 || n.next.started != pid {
		return
	}
	if n.svc.pid != 0 {
		n.retiring[n.svc.started] = true
	}
	last := n.svc.active
	n.svc, n.next = n.next, idle()
	n.svc.label = ""
	state := n.svc.active
	n.svc.active = last
	n.line("Main PID: %d", n.svc.pid)
	n.setActive(&n.svc, state)
	n.wake()
}

// dismiss tells the notifier that the new build's program, started as
// pid, will not take over: socket-activate stops it. From now on its
// messages count only for the fd store, and its deadlines are off.
func (n *notifier) dismiss(pid int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.next.pid != 0 && n.next.started == pid {
		n.retiring[pid] = true
		n.next = idle()
		n.wake()
	}
}

// mainPID returns the main process of the run started as pid, when
// MAINPID= made it another process, else 0.
func (n *notifier) mainPID(pid int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range []*service{&n.svc, &n.next} {
		if s.pid != 0 && s.started == pid && s.pid != pid {
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
	for _, s := range n.addressees(from) {
		n.update(s, tags, from)
	}
	if fds = n.updateStore(tags, fds); len(fds) > 0 {
		n.warning("%d fds sent without FDSTORE=1 closed", len(fds))
		closeFDs(fds)
	}
}

// addressees returns the runs a message from from is about: the main
// process's, or the new build's program's when it sent it; none for a
// program stopped after a switch, whose messages count only for the fd
// store. During a switch, a message from another process (which only
// --notify-access=all lets through) or from a sender the system does not
// name is about both runs: which one it belongs to cannot be told.
func (n *notifier) addressees(from origin) []*service {
	switch {
	case from.known && n.next.pid != 0 && from.pid == n.next.pid:
		return []*service{&n.next}
	case from.known && n.svc.pid != 0 && from.pid == n.svc.pid:
		return []*service{&n.svc}
	case from.known && n.retiring[from.pid]:
		return nil
	}
	var to []*service
	for _, s := range []*service{&n.svc, &n.next} {
		if s.pid != 0 {
			to = append(to, s)
		}
	}
	return to
}

// allowed reports whether --notify-access lets from notify, and warns
// when it does not. There are no control processes (ExecStartPre= and
// the like) here, so "exec" allows what "main" does. During a switch,
// "main" allows the new build's program too, which is to become the main
// process, and a program stopped after a switch until it exits, which
// was.
func (n *notifier) allowed(from origin) bool {
	switch {
	case !n.creds || n.cfg.access == "all" && from.known:
		return true
	case !from.known:
		n.warning("Received notify message without valid credentials. Ignoring.")
		return false
	case n.svc.pid != 0 && from.pid == n.svc.pid,
		n.next.pid != 0 && from.pid == n.next.pid,
		n.retiring[from.pid]:
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

// update acts on the assignments that describe the state of s, a run, in
// systemd's order. n.mu must be held and s's program running.
func (n *notifier) update(s *service, tags []string, from origin) {
	if v, ok := tagValue(tags, "MAINPID"); ok {
		n.setMainPID(s, v, from)
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
		n.setActive(s, "deactivating (stop-sigterm)")
	case s.notified == "stopping":
	case hasTag(tags, "READY=1"):
		s.notified = "ready"
		started := s.active == "activating (start)"
		if started {
			// Its own start timeout ends, and its own watchdog runs.
			s.startDeadline = time.Time{}
			n.resetWatchdog(s)
		}
		n.setActive(s, "active (running)")
		if started && s == &n.next {
			n.readied()
		}
	case hasTag(tags, "RELOADING=1"):
		s.notified = "reloading"
		if s.active == "active (running)" {
			n.setActive(s, "reloading (reload)")
		}
	}
	if v, ok := tagValue(tags, "STATUS"); ok {
		if !utf8.ValidString(v) {
			n.warning("Status message in notification message is not UTF-8 clean, ignoring.")
			v = ""
		}
		if v != s.status {
			s.status = v
			n.line("%sStatus: %q", s.label, v)
		}
	}
	if v, ok := tagValue(tags, "ERRNO"); ok {
		if e, err := sdnum.ParseInt(v); err != nil || e < 0 {
			n.warning("Failed to parse ERRNO= field value '%s' in notification message", v)
		} else if e != s.errno {
			s.errno = e
			n.line("%sError: %d (%s)", s.label, e, errnoText(e))
		}
	}
	if v, ok := tagValue(tags, "EXIT_STATUS"); ok {
		// systemd reads it only from itself; it shows here, and the exit
		// status remains the program's own.
		if e, err := sdnum.ParseInt(v); err != nil || e < 0 || e > 255 {
			n.warning("Failed to parse EXIT_STATUS=%s", v)
		} else if e != s.exit {
			s.exit = e
			n.line("%sExit status: %d", s.label, e)
		}
	}
	if v, ok := tagValue(tags, "EXTEND_TIMEOUT_USEC"); ok {
		if usec, err := sdnum.ParseUint64(v); err != nil {
			n.warning("Failed to parse EXTEND_TIMEOUT_USEC=%s", v)
		} else {
			n.extendTimeouts(s, usec)
		}
	}
	if v, ok := tagValue(tags, "WATCHDOG"); ok {
		switch v {
		case "1":
			n.resetWatchdog(s)
		case "trigger":
			status := s.status
			if status == "" {
				status = "<unset>"
			}
			n.fail(s, "watchdog", unix.SIGABRT, "Watchdog request (last status: "+status+")!")
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
			n.resetWatchdog(s)
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

// setMainPID acts on MAINPID=v for s: the process it names becomes the
// main process if it exists and belongs to the program (its process
// group), or if root asked.
func (n *notifier) setMainPID(s *service, v string, from origin) {
	pid, err := sdnum.ParsePID(v)
	switch {
	case err != nil:
		n.warning("Failed to parse MAINPID=%s field in notification message, ignoring: %v", v, err)
		return
	case pid == s.pid:
		return
	case pid == os.Getpid():
		n.warning("New main PID %d is the manager itself, refusing.", pid)
		return
	case unix.Kill(pid, 0) == unix.ESRCH:
		n.warning("New main PID %d does not exist or is a zombie.", pid)
		return
	}
	if pgid, err := unix.Getpgid(pid); (err != nil || pgid != s.pgid) && !(from.known && from.uid == 0) {
		n.warning("New main PID %d does not belong to service, refusing.", pid)
		return
	}
	s.pid = pid
	n.line("%sMain PID: %d", s.label, pid)
}

// resetWatchdog restarts the watchdog's interval for s, if there is a
// watchdog and the program is not being stopped.
func (n *notifier) resetWatchdog(s *service) {
	if s.watchdogInterval > 0 && s.result == "" && s.notified != "stopping" {
		s.watchdogDeadline = time.Now().Add(s.watchdogInterval)
	}
}

// extendTimeouts acts on EXTEND_TIMEOUT_USEC=usec for s: the start
// timeout and the watchdog, when running, fire no earlier than usec from
// now.
func (n *notifier) extendTimeouts(s *service, usec uint64) {
	if usec == 0 || usec == 1<<64-1 {
		return
	}
	d := usecDuration(usec)
	if d == 0 || d > 100*365*24*time.Hour {
		d = 100 * 365 * 24 * time.Hour
	}
	extended := time.Now().Add(d)
	for _, deadline := range []*time.Time{&s.startDeadline, &s.watchdogDeadline} {
		if !deadline.IsZero() && deadline.Before(extended) {
			*deadline = extended
		}
	}
}

// fail stops the program of s for result, with sig first: it says why,
// and asks the activator to send the signals. n.mu must be held.
func (n *notifier) fail(s *service, result string, sig syscall.Signal, why string) {
	if s.pid == 0 || s.result != "" {
		return
	}
	s.result = result
	s.startDeadline, s.watchdogDeadline = time.Time{}, time.Time{}
	n.line("%s%s", s.label, why)
	if sig == unix.SIGABRT {
		n.setActive(s, "deactivating (stop-watchdog)")
	} else {
		n.setActive(s, "deactivating (stop-sigterm)")
	}
	select {
	case n.stops <- stopRequest{pid: s.started, sig: sig}:
	default:
	}
}

// untilDeadline returns the milliseconds until the next deadline, for
// poll, or -1 when none is set. n.mu must be held.
func (n *notifier) untilDeadline() int {
	next := time.Time{}
	for _, d := range []time.Time{n.svc.startDeadline, n.svc.watchdogDeadline, n.next.startDeadline, n.next.watchdogDeadline} {
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
	for _, s := range []*service{&n.svc, &n.next} {
		if !s.startDeadline.IsZero() && !now.Before(s.startDeadline) {
			n.fail(s, "timeout", unix.SIGTERM, "start operation timed out. Terminating.")
		}
		if !s.watchdogDeadline.IsZero() && !now.Before(s.watchdogDeadline) {
			n.fail(s, "watchdog", unix.SIGABRT, "Watchdog timeout (limit "+formatTimespan(s.watchdogInterval)+")!")
		}
	}
}

// updateStore acts on FDSTOREREMOVE=1 and FDSTORE=1 and returns the fds
// it did not take.
func (n *notifier) updateStore(tags []string, fds []int) []int {
	name, named := tagValue(tags, "FDNAME")
	switch {
	case hasTag(tags, "FDSTOREREMOVE=1"):
		if !named || fdname.Check(name) != nil {
			n.warning("FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring.")
		} else {
			n.remove(name)
		}
		return fds
	case !hasTag(tags, "FDSTORE=1"):
		return fds
	}
	if named && fdname.Check(name) != nil {
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

// notifyStops returns the channel on which the notifier asks to stop a
// program, or nil (which never delivers) without --notify.
func (a *activator) notifyStops() <-chan stopRequest {
	if a.notif == nil {
		return nil
	}
	return a.notif.stops
}

// stopRequested stops the program p as the notifier asked: the signal
// goes to the process socket-activate started, and to a main process
// that MAINPID= named.
func (a *activator) stopRequested(p *program, req stopRequest) {
	name := filepath.Base(a.prog)
	pid := p.cmd.Process.Pid
	fmt.Fprintf(a.stderr, "socket-activate: Killing process %d (%s) with signal %s.\n", pid, name, unix.SignalName(req.sig))
	p.signal(req.sig)
	if main := a.notif.mainPID(pid); main != 0 {
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
// how socket-activate would end with it: as the program did, or with
// status 1 if it exited with 0 after the notifier had it stopped, since
// the run failed.
func (a *activator) runEnded(ps *os.ProcessState) ending {
	end := endLike(ps)
	if a.notif != nil && a.notif.ended(ps) && end == exitCode(0) {
		end = exitCode(1)
	}
	return end
}
