//go:build unix

package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/internal/sdnum"
	"golang.org/x/sys/unix"
)

const (
	// stopTimeout is how long a program stopped for a restart may take
	// after SIGTERM before it gets SIGKILL.
	stopTimeout = 10 * time.Second
	// A run shorter than quickExit is quick. A program that fails quickly,
	// or exits quickly quickBurst times in a row, is restarted only after
	// restartDelay, so that a crash loop does not spin; a longer run ends
	// the delays.
	quickExit    = time.Second
	quickBurst   = 5
	restartDelay = time.Second
)

// activator owns the listening sockets and runs the program with them.
type activator struct {
	opts   *options
	stderr io.Writer
	sigs   <-chan os.Signal

	prog string   // the program's path, resolved through PATH
	self string   // this executable, run as the shim
	env  []string // the program's environment before the activator's variables and -E
	// socks are the fds passed to the activator, then its own sockets, in
	// the order the program gets them.
	socks []*os.File
	fds   []int    // the socks' fds, for poll and accept
	addrs []string // the socks' local addresses, as printed
	names []string // LISTEN_FDNAMES for socks, as systemd-socket-activate passes them
	paths []string // unix socket files to remove at exit
	notif *notifier
	build *builder // with --watch

	next     *program       // a new build's program, started but not switched to yet
	retiring sync.WaitGroup // programs stopped after a switch, until they exit
}

// program is a run of the program.
type program struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once it exited and was waited for
}

// newProgram waits for cmd, just started, in a goroutine of its own.
func newProgram(cmd *exec.Cmd) *program {
	p := &program{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p
}

// signal sends sig to the program.
func (p *program) signal(sig syscall.Signal) {
	unix.Kill(p.cmd.Process.Pid, sig)
}

// pid returns the program's pid.
func (p *program) pid() int {
	return p.cmd.Process.Pid
}

// passedFD is an fd socket-activate itself was started with, by
// LISTEN_FDS: it passes it on to the program.
type passedFD struct {
	file      *os.File // named by its LISTEN_FDNAMES entry, or "unknown"
	named     bool     // LISTEN_FDNAMES named it
	listening bool     // a listening stream or seqpacket socket
}

// takePassedFDs takes the fds passed to socket-activate by LISTEN_FDS, as
// sd_listen_fds_with_names(3) reads them, with their names and what they
// are. It returns nothing when the variables are not for this process.
// A LISTEN_FDNAMES that does not name each fd is ignored, with a warning
// on stderr, as systemd-socket-activate ignores the names (see
// badPassedNames). The fds are close-on-exec; the caller owns the files.
func takePassedFDs(stderr io.Writer) ([]passedFD, error) {
	if bad, warning := badPassedNames(os.LookupEnv, os.Getpid()); bad {
		if warning != "" {
			fmt.Fprintf(stderr, "socket-activate: warning: %s\n", warning)
		}
		os.Unsetenv("LISTEN_FDNAMES")
	}
	_, named := os.LookupEnv("LISTEN_FDNAMES")
	infos, err := activation.Inherited()
	if err != nil {
		return nil, fmt.Errorf("failed to read the fds passed in LISTEN_FDS: %w", err)
	}
	files, err := activation.Files()
	if err != nil {
		return nil, fmt.Errorf("failed to take the fds passed in LISTEN_FDS: %w", err)
	}
	passed := make([]passedFD, len(files))
	for i, f := range files {
		// Both lists are in fd order, and nothing was claimed before.
		passed[i] = passedFD{file: f, named: named, listening: i < len(infos) && infos[i].Listening}
	}
	return passed, nil
}

// badPassedNames reports whether LISTEN_FDNAMES, as getenv gives it, is
// one that sd_listen_fds_with_names(3) would refuse along with the fds,
// while systemd-socket-activate, which reads the fds with sd_listen_fds,
// takes them unnamed: one that ends in a lone backslash, or one that does
// not name each of the fds LISTEN_FDS passes to the process pid. It
// returns the warning to give, "" when the variables are not for pid. A
// malformed LISTEN_PID or LISTEN_FDS is not its to judge.
func badPassedNames(getenv func(string) (string, bool), pid int) (bad bool, warning string) {
	names, ok := getenv("LISTEN_FDNAMES")
	if !ok {
		return false, ""
	}
	given, malformed := 1, false
	for i := 0; i < len(names); i++ {
		switch {
		case names[i] == '\\' && i+1 == len(names):
			malformed = true
		case names[i] == '\\':
			i++ // the next byte is part of a name
		case names[i] == ':':
			given++
		}
	}
	rawPID, _ := getenv("LISTEN_PID")
	rawFDs, _ := getenv("LISTEN_FDS")
	target, err1 := sdnum.ParsePID(rawPID)
	n, err2 := sdnum.ParseInt(rawFDs)
	ours := err1 == nil && err2 == nil && target == pid && n > 0
	switch {
	case malformed && ours:
		return true, fmt.Sprintf("LISTEN_FDNAMES=%q ends in a lone backslash; the fds passed in are taken unnamed", names)
	case malformed:
		return true, ""
	case ours && given != n:
		return true, fmt.Sprintf("LISTEN_FDNAMES=%q names %s but LISTEN_FDS is %d; the fds passed in are taken unnamed", names, count(given, "fd"), n)
	}
	return false, ""
}

// newActivator resolves the program, opens every socket and prints them,
// after the fds passed in, which it takes over. On error it closes them
// all.
func newActivator(o *options, passed []passedFD, stderr io.Writer, sigs <-chan os.Signal) (_ *activator, err error) {
	a := &activator{opts: o, stderr: stderr, sigs: sigs}
	for _, p := range passed {
		a.socks = append(a.socks, p.file)
	}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := checkSockets(o, len(passed)); err != nil {
		return nil, err
	}
	for i, p := range passed {
		fd := int(p.file.Fd())
		if o.accept && !p.listening {
			return nil, fmt.Errorf("fd %d passed in LISTEN_FDS (named %q) is not a listening socket, and --accept accepts connections on every socket", fd, p.file.Name())
		}
		a.fds = append(a.fds, fd)
		a.addrs = append(a.addrs, localAddr(fd))
		if i == 0 {
			fmt.Fprintf(stderr, "Received %d descriptors via the environment.\n", len(passed))
		}
	}
	if a.prog, err = lookProgram(o.argv[0]); err != nil && o.build == "" {
		// With --build, the first build may make the program.
		return nil, err
	}
	if a.self, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("cannot find own executable to run as the shim: %w", err)
	}
	addrs := make([]address, len(o.listen))
	for i, s := range o.listen {
		if addrs[i], err = parseAddress(s); err != nil {
			return nil, fmt.Errorf("bad address %q: %w", s, err)
		}
	}
	typ := socketType(o)
	for _, addr := range addrs {
		f, err := listenSocket(addr, typ, o.socketMode)
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %q: %w", addr.text, err)
		}
		a.socks = append(a.socks, f)
		a.fds = append(a.fds, int(f.Fd()))
		a.addrs = append(a.addrs, f.Name())
		if addr.path != "" {
			a.paths = append(a.paths, addr.path)
		}
	}
	if o.notify {
		cfg := notifyConfig{access: o.notifyAccess, startTimeout: o.timeoutStart, watchdog: o.watchdog, storeMax: o.fdstoreMax}
		if a.notif, err = newNotifier(stderr, cfg); err != nil {
			return nil, err
		}
	}
	if o.watch != nil {
		roots, err := watchRoots(o.watch)
		if err != nil {
			return nil, err
		}
		// A build may write the program under a watched directory.
		self, _ := filepath.Abs(o.argv[0])
		w, err := newWatcher(roots, newSkip([]string{self}))
		if err != nil {
			return nil, err
		}
		a.build = newBuilder(o.build, w, stderr)
	}
	a.env = freshEnv(os.LookupEnv)
	// checkSockets saw that --fdname gives one name, or one per socket
	// (but with --inetd, which passes no names).
	switch {
	case o.fdnames == nil:
		// The fds passed in keep their names; a connection accepted on
		// one gets its name, as one on an -l socket gets its --fdname.
		unnamed := "unknown"
		if o.accept {
			unnamed = "connection" // as systemd names Accept=yes sockets
		}
		a.names = repeat(unnamed, len(a.socks))
		for i, p := range passed {
			if p.named {
				a.names[i] = p.file.Name()
			}
		}
	case len(o.fdnames) == 1:
		a.names = repeat(o.fdnames[0], len(a.socks))
	default:
		a.names = o.fdnames
	}
	for i := range a.socks {
		// systemd-socket-activate's line, then one that says more.
		fmt.Fprintf(stderr, "Listening on %s as %d.\n", a.addrs[i], 3+i)
		fmt.Fprintf(stderr, "socket-activate: listening on %s (%s)\n", a.addrs[i], a.describe(i))
	}
	return a, nil
}

// checkSockets reports what cannot work with the sockets there are:
// passed of them passed in, and those of -l. With --inetd no names are
// passed, so --fdname may give any number.
func checkSockets(o *options, passed int) error {
	n := passed + len(o.listen)
	switch {
	case n == 0 && (o.accept || o.inetd):
		return fmt.Errorf("--accept and --inetd need a socket: give -l ADDR or pass one in LISTEN_FDS (%w)", errUsage)
	case n == 0 && !o.notify:
		return fmt.Errorf("no socket to listen on: give at least one -l ADDR, pass sockets in LISTEN_FDS, or give --notify --now for a program that keeps its own sockets in the fd store (%w)", errUsage)
	case n == 0 && !o.now && o.watch == nil: // --watch implies --now
		return fmt.Errorf("--notify without sockets needs --now: there is no socket to wait on for a first connection (%w)", errUsage)
	case n == 0 && o.fdnames != nil:
		return fmt.Errorf("--fdname names sockets, and there are none; the program names the fds it stores with FDNAME (%w)", errUsage)
	case o.inetd && !o.accept && n != 1:
		return fmt.Errorf("--inetd without --accept needs exactly one socket, and there are %d (%w)", n, errUsage)
	case len(o.fdnames) > 1 && len(o.fdnames) != n && !o.inetd:
		// systemd-socket-activate passes them with a warning, and every
		// program that reads them as libsystemd does then fails.
		return fmt.Errorf("--fdname gives %d names for %s: give one name for each socket, in order, or one for all; a program would refuse a LISTEN_FDNAMES that does not name each fd (%w)", len(o.fdnames), count(n, "socket"), errUsage)
	}
	return nil
}

// count returns "1 socket", "2 sockets" and so on.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// localAddr returns the local address of the socket fd as printed, or
// "n/a" for an fd that is not a socket.
func localAddr(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "n/a"
	}
	return formatSockaddr(sa)
}

// describe says how socket i reaches the program.
func (a *activator) describe(i int) string {
	switch {
	case a.opts.accept && a.opts.inetd:
		return "one program per connection on stdin and stdout"
	case a.opts.accept:
		return fmt.Sprintf("one program per connection on fd 3, name %q", a.acceptName(i))
	case a.opts.inetd:
		return "stdin and stdout"
	case i < len(a.names):
		return fmt.Sprintf("fd %d, name %q", 3+i, a.names[i])
	}
	return fmt.Sprintf("fd %d, no name", 3+i)
}

// acceptName is the name of a connection accepted on socket i: the
// socket's name, or "connection" for an unnamed one.
func (a *activator) acceptName(i int) string {
	if i < len(a.names) {
		return a.names[i]
	}
	return "connection"
}

// close closes the sockets and the notify socket and removes the files
// the activator created.
func (a *activator) close() {
	if a.build != nil {
		a.build.close()
	}
	for _, f := range a.socks {
		f.Close()
	}
	for _, p := range a.paths {
		os.Remove(p)
	}
	if a.notif != nil {
		a.notif.close()
	}
}

// freshEnv returns the start of the program's environment, built afresh
// as systemd-socket-activate builds it: TERM, PATH, USER and HOME from ours
// when set.
func freshEnv(lookup func(string) (string, bool)) []string {
	var env []string
	for _, key := range []string{"TERM", "PATH", "USER", "HOME"} {
		if v, ok := lookup(key); ok {
			env = append(env, key+"="+v)
		}
	}
	return env
}

// hasEnv reports whether env has a VAR=VALUE entry for key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = s
	}
	return r
}

// command returns the program's command for the given fds (passed as 3, 4,
// …), LISTEN_FDNAMES and extra environment. With fds it runs through the
// shim, which sets LISTEN_PID, and with WATCHDOG_USEC in extra too, for
// WATCHDOG_PID; with --accept, through the shim too if socket-activate
// ignores SIGHUP or SIGINT, which its programs must not. The -E variables
// are set last, so that they win over any the activator sets (LISTEN_PID
// and WATCHDOG_PID included: the shim keeps one it finds), as with
// systemd-socket-activate.
func (a *activator) command(files []*os.File, names []string, extra ...string) *exec.Cmd {
	env := append([]string(nil), a.env...)
	if len(files) > 0 {
		extra = append(extra, "LISTEN_FDS="+strconv.Itoa(len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	for _, kv := range append(extra, a.opts.setenv...) {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	// When socket-activate dies, the program dies with it, as it dies
	// with systemd-socket-activate, which becomes the program; --accept
	// programs get SIGTERM, as systemd-socket-activate's forks do.
	death := syscall.SIGKILL
	if a.opts.accept {
		death = syscall.SIGTERM
	}
	cmd := &exec.Cmd{
		Path:   a.prog,
		Args:   a.opts.argv,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		// The program stays in socket-activate's process group, as under
		// systemd-socket-activate, which becomes the program: it can read
		// the terminal, and ^C reaches it.
		SysProcAttr: deathSignalAttr(death),
	}
	var shim []string
	if len(files) > 0 {
		shim = append(shim, "LISTEN_PID")
		cmd.ExtraFiles = files
	}
	if hasEnv(extra, "WATCHDOG_USEC") {
		shim = append(shim, "WATCHDOG_PID")
	}
	if a.opts.accept && (ignoredAtStart[syscall.SIGHUP] || ignoredAtStart[syscall.SIGINT]) {
		shim = append(shim, shimDefaultSignals)
	}
	if shim != nil {
		if cmd.SysProcAttr != nil {
			shim = append(shim, fmt.Sprintf("%s=%d:%d", shimParentDeath, death, os.Getpid()))
		}
		env = append(env, shimEnv+"="+strings.Join(shim, ","))
		cmd.Path = a.self
		cmd.Args = append([]string{"socket-activate", a.prog}, a.opts.argv...)
	}
	cmd.Env = env
	return cmd
}

// serve runs the program with every socket, after the first connection
// unless --now, and again after it ends with --restart. With --watch it
// starts a new program after each successful build and stops the old one.
// It returns how socket-activate ends: as the program ended, or of a
// signal that came while no program ran, as systemd-socket-activate dies
// of it.
func (a *activator) serve() ending {
	defer a.retiring.Wait()
	restarts, quick := 0, 0
	now := a.opts.now || a.build != nil
	if a.build != nil && a.opts.build != "" {
		// The program is built before its first start.
		a.build.request("starting")
		if sig := a.awaitBuild(); sig != 0 {
			return ending{sig: sig}
		}
	}
	var p *program
	for {
		if p == nil {
			if !now {
				sig, err := a.waitTraffic()
				if err != nil {
					fmt.Fprintf(a.stderr, "socket-activate: %v\n", err)
					return exitCode(1)
				}
				if sig != 0 {
					fmt.Fprintf(a.stderr, "socket-activate: %v while waiting for a connection; exiting\n", sig)
					return ending{sig: sig}
				}
			}
			why := ""
			if restarts > 0 {
				why = fmt.Sprintf("restarting (restart %d)", restarts)
			}
			cmd, err := a.start(why, false)
			if err != nil {
				fmt.Fprintf(a.stderr, "socket-activate: %v\n", err)
				if a.build == nil {
					return exitCode(1)
				}
				if sig := a.awaitBuild(); sig != 0 {
					return ending{sig: sig}
				}
				continue
			}
			p = newProgram(cmd)
		}
		end, reason := a.wait(p)
		if reason == stopSwitch {
			// The new build's program takes over: the old one stops,
			// unless it exited already.
			if a.notif != nil {
				a.notif.switchTo(a.next.pid())
			}
			a.retire(p, "the program that ran before", syscall.SIGTERM, false, stopTimeout)
			p, a.next = a.next, nil
			restarts++
			continue
		}
		started := p.started
		p = nil
		if reason == stopExit {
			return end
		}
		if !a.opts.restart && a.build != nil {
			fmt.Fprintf(a.stderr, "socket-activate: program exited with status %d; starting it again after the next successful build\n", end.status())
			if sig := a.awaitBuild(); sig != 0 {
				return ending{sig: sig}
			}
			restarts++
			continue
		}
		if !a.opts.restart {
			return end
		}
		restarts++
		now = a.opts.now || a.build != nil || reason == stopRestart
		quick++
		if reason != stopExited || time.Since(started) >= quickExit {
			quick = 0
		}
		status := end.status()
		switch {
		case reason != stopExited:
		case quick > 0 && (status != 0 || quick >= quickBurst):
			fmt.Fprintf(a.stderr, "socket-activate: program exited with status %d within %v; restarting it in %v\n", status, quickExit, restartDelay)
			if sig := a.delay(restartDelay); sig != 0 {
				fmt.Fprintf(a.stderr, "socket-activate: %v while waiting to restart the program; exiting\n", sig)
				return ending{sig: sig}
			}
		case now:
			fmt.Fprintf(a.stderr, "socket-activate: program exited with status %d; restarting it\n", status)
		default:
			fmt.Fprintf(a.stderr, "socket-activate: program exited with status %d; restarting it at the next connection\n", status)
		}
	}
}

// waitTraffic waits until a socket is readable: a connection or a datagram
// waits. It returns 0, nil once there is traffic, saying on which fd as
// systemd-socket-activate does, or a signal that comes first and ends
// socket-activate: any caught signal but SIGHUP with --restart, which has
// nothing to restart, and SIGWINCH, which is ignored.
func (a *activator) waitTraffic() (syscall.Signal, error) {
	type result struct {
		ready []int
		err   error
	}
	done := make(chan result, 1)
	go func() {
		ready, err := pollIn(a.fds)
		done <- result{ready, err}
	}()
	for {
		select {
		case r := <-done:
			if r.err == nil {
				fmt.Fprintf(a.stderr, "Communication attempt on fd %d.\n", 3+r.ready[0])
			}
			return 0, r.err
		case s := <-a.sigs:
			sig := s.(syscall.Signal)
			switch {
			case harmless(sig):
			case sig != syscall.SIGHUP || !a.opts.restart:
				return sig, nil
			default:
				fmt.Fprintf(a.stderr, "socket-activate: SIGHUP: no program running, still waiting for a connection\n")
			}
		}
	}
}

// delay waits d before a restart. It returns 0 then, or at once on
// SIGHUP, which asks for the restart; it ignores SIGWINCH, and returns any
// other caught signal, which ends socket-activate since no program runs.
func (a *activator) delay(d time.Duration) syscall.Signal {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return 0
		case s := <-a.sigs:
			switch sig := s.(syscall.Signal); {
			case sig == syscall.SIGHUP:
				return 0
			case !harmless(sig):
				return sig
			}
		}
	}
}

// start starts the program with the sockets and the stored fds, saying
// why first unless why is "": as the main process, or with next as a new
// build's program while the one that runs goes on. With --watch it looks
// the program up again: a build may have made it.
func (a *activator) start(why string, next bool) (*exec.Cmd, error) {
	if a.build != nil {
		prog, err := lookProgram(a.opts.argv[0])
		if err != nil {
			return nil, err
		}
		a.prog = prog
	}
	if a.notif == nil {
		return a.startWith(why, nil, nil, nil)
	}
	var cmd *exec.Cmd
	start := func(stored []*os.File, names, env []string) (pid int, err error) {
		if cmd, err = a.startWith(why, stored, names, env); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}
	if next {
		return cmd, a.notif.handOverNext(readyTimeout, start)
	}
	return cmd, a.notif.handOver(start)
}

// startWith starts the program with the sockets, then the stored fds
// named storedNames, and the extra environment, saying why first unless
// why is "".
func (a *activator) startWith(why string, stored []*os.File, storedNames, extra []string) (*exec.Cmd, error) {
	files := append(append([]*os.File(nil), a.socks...), stored...)
	names := append(append([]string(nil), a.names...), storedNames...)
	var cmd *exec.Cmd
	if a.opts.inetd {
		cmd = a.command(nil, nil, extra...)
		cmd.Stdin, cmd.Stdout = a.socks[0], a.socks[0]
	} else {
		cmd = a.command(files, names, extra...)
	}
	if why != "" {
		fmt.Fprintf(a.stderr, "socket-activate: %s: %s\n", why, commandLine(a.opts.argv))
	}
	fmt.Fprintf(a.stderr, "%s\n", a.execing())
	cmd, err := startProgram(cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot start %q: %w", a.prog, err)
	}
	return cmd, nil
}

// Why a program run ended.
const (
	stopExited  = iota // it exited by itself
	stopRestart        // SIGHUP with --restart: start it again at once
	stopExit           // SIGINT, SIGQUIT or SIGTERM: the activator exits too
	stopSwitch         // with --watch: a new build's program runs, in a.next
)

// readyTimeout bounds how long a switch waits for the new program's
// READY=1 with --notify, unless --timeout-start-sec says.
const readyTimeout = 30 * time.Second

// wait waits for the program to end while passing signals on and
// stopping it when the notifier asks, and returns how it ended and why.
// The caught signals are passed on (SIGHUP only without --restart and
// --watch), but those the terminal sent the program itself; after SIGINT,
// SIGQUIT or SIGTERM socket-activate exits once the program has.
// SIGHUP with --restart stops the program with SIGTERM, and SIGKILL
// after stopTimeout, to start it again. When the start timeout or the
// watchdog fires, the notifier asks for the program to stop: with
// SIGTERM or SIGABRT, and SIGKILL after notifyKillGrace.
//
// With --watch, SIGHUP asks for a build, as a change does; after a
// successful build wait starts the new program in a.next and returns
// stopSwitch while p still runs: at once, or with --notify once the new
// program sent READY=1, so that the two overlap. A new program that
// exits first, or that the notifier stops (no READY=1 within the start
// timeout, or readyTimeout), is given up.
func (a *activator) wait(p *program) (end ending, reason int) {
	reason = stopExited
	var kill <-chan time.Time
	stopSig, grace := syscall.SIGTERM, stopTimeout // the signal kill follows, and after how long
	var ready <-chan struct{}
	for {
		var builds <-chan bool
		var nextDone <-chan struct{}
		if a.build != nil && a.next == nil && reason == stopExited {
			builds = a.build.results
		}
		if a.next != nil {
			nextDone = a.next.done
		}
		select {
		case <-p.done:
			end = a.runEnded(p.cmd.ProcessState)
			if a.next != nil {
				// The new program takes over from one that did not wait.
				return end, stopSwitch
			}
			return end, reason
		case req := <-a.notifyStops():
			switch {
			case req.pid == p.pid():
				// Its start timeout or its watchdog fired.
				a.stopRequested(p, req)
				if kill == nil {
					stopSig, grace = req.sig, notifyKillGrace
					kill = time.After(grace)
				}
			case a.next != nil && req.pid == a.next.pid():
				a.stopRequested(a.next, req)
				fmt.Fprintf(a.stderr, "socket-activate: the new program did not start; the program that ran before keeps running\n")
				a.giveUpNext(req.sig, true, notifyKillGrace)
			}
			// Else the request came too late: that program was stopped.
		case s := <-a.sigs:
			sig := s.(syscall.Signal)
			switch {
			case sig == syscall.SIGHUP && a.build != nil:
				a.build.request("SIGHUP")
			case sig == syscall.SIGHUP && a.opts.restart:
				if reason == stopExited {
					fmt.Fprintf(a.stderr, "socket-activate: SIGHUP: stopping the program with SIGTERM to restart it\n")
					reason = stopRestart
					a.signalRun(p, syscall.SIGTERM)
					a.notifyStopping()
					stopSig, grace = syscall.SIGTERM, stopTimeout
					kill = time.After(grace)
				}
			case sig == syscall.SIGINT || sig == syscall.SIGQUIT || sig == syscall.SIGTERM:
				reason = stopExit
				if !fromTerminal(sig) {
					a.signalRun(p, sig)
				}
				a.notifyStopping()
				if a.next != nil {
					// It never took over.
					a.giveUpNext(syscall.SIGTERM, false, stopTimeout)
				}
			case !fromTerminal(sig):
				// SIGHUP, SIGUSR1, SIGALRM and the others: the program
				// decides what they do, and socket-activate ends when
				// it does.
				a.signalRun(p, sig)
			}
		case <-kill:
			fmt.Fprintf(a.stderr, "socket-activate: program still running %v after %s; sending SIGKILL\n", grace, unix.SignalName(stopSig))
			a.signalRun(p, syscall.SIGKILL)
		case ok := <-builds:
			if !ok {
				fmt.Fprintf(a.stderr, "socket-activate: the program that runs keeps running\n")
				continue
			}
			if a.notif != nil {
				ready = a.notif.readyEvents()
				drainReady(ready) // a READY=1 from before is not the new program's
			}
			cmd, err := a.start("starting the new build", true)
			if err != nil {
				fmt.Fprintf(a.stderr, "socket-activate: %v; the program that runs keeps running\n", err)
				continue
			}
			a.next = newProgram(cmd)
			if a.notif == nil {
				return ending{}, stopSwitch
			}
		case <-ready:
			if a.next != nil {
				return ending{}, stopSwitch
			}
		case <-nextDone:
			a.runEnded(a.next.cmd.ProcessState)
			fmt.Fprintf(a.stderr, "socket-activate: the new program exited with status %d before READY=1; the program that ran before keeps running\n", endLike(a.next.cmd.ProcessState).status())
			a.next = nil
		}
	}
}

// signalRun sends sig to the program p, and to the main process that
// MAINPID= named instead, if any, as systemd signals a service's main
// process when it stops it.
func (a *activator) signalRun(p *program, sig syscall.Signal) {
	p.signal(sig)
	if a.notif != nil {
		if main := a.notif.mainPID(p.pid()); main != 0 {
			unix.Kill(main, sig)
		}
	}
}

// giveUpNext gives up the new build's program, which will not take over:
// it stops it with sig (unless sent says that was done), and SIGKILL after
// grace.
func (a *activator) giveUpNext(sig syscall.Signal, sent bool, grace time.Duration) {
	if a.notif != nil {
		a.notif.dismiss(a.next.pid())
	}
	a.retire(a.next, "the new program", sig, sent, grace)
	a.next = nil
}

// retire stops p, which no longer serves or never will (who says which,
// for the messages), with sig (unless sent says that was done), and with
// SIGKILL after grace, in a goroutine of its own: serve waits for it
// before it returns.
func (a *activator) retire(p *program, who string, sig syscall.Signal, sent bool, grace time.Duration) {
	select {
	case <-p.done:
	default:
		if !sent {
			fmt.Fprintf(a.stderr, "socket-activate: stopping %s (pid %d) with %s\n", who, p.pid(), unix.SignalName(sig))
			p.signal(sig)
		}
	}
	a.retiring.Add(1)
	go func() {
		defer a.retiring.Done()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			fmt.Fprintf(a.stderr, "socket-activate: %s (pid %d) still runs %v after %s; sending SIGKILL\n", who, p.pid(), grace, unix.SignalName(sig))
			p.signal(syscall.SIGKILL)
			<-p.done
		}
		if a.notif != nil {
			// The notifier forgets it.
			a.notif.ended(p.cmd.ProcessState)
		}
	}()
}

// awaitBuild waits, with no program running, for a successful build. It
// returns 0 then, or a signal that comes first and ends socket-activate;
// SIGHUP asks for a build, and SIGWINCH is ignored.
func (a *activator) awaitBuild() syscall.Signal {
	for {
		select {
		case ok := <-a.build.results:
			if ok {
				return 0
			}
			fmt.Fprintf(a.stderr, "socket-activate: no program runs; waiting for the next change\n")
		case s := <-a.sigs:
			sig := s.(syscall.Signal)
			switch {
			case harmless(sig):
				continue
			case sig == syscall.SIGHUP:
				a.build.request("SIGHUP")
				continue
			}
			fmt.Fprintf(a.stderr, "socket-activate: %v with no program running; exiting\n", sig)
			return sig
		}
	}
}

// drainReady empties c of a READY=1 not taken yet.
func drainReady(c <-chan struct{}) {
	select {
	case <-c:
	default:
	}
}

// acceptLoop accepts connections on every socket and runs one program per
// connection until a caught signal other than SIGWINCH. Then, as
// systemd-socket-activate's programs get SIGTERM when it dies, it sends
// the programs still running SIGTERM (and SIGKILL after stopTimeout),
// waits for them, and dies of the signal.
func (a *activator) acceptLoop() ending {
	for _, fd := range a.fds {
		// Only this process accepts: the listening sockets are never passed.
		if err := unix.SetNonblock(fd, true); err != nil {
			fmt.Fprintf(a.stderr, "socket-activate: %v\n", os.NewSyscallError("fcntl", err))
			return exitCode(1)
		}
	}
	conns := make(chan conn)
	failed := make(chan error, 1)
	go func() { failed <- acceptAll(a.fds, conns) }()
	running := map[int]*exec.Cmd{}
	exited := make(chan int)
	var quit syscall.Signal
	var kill <-chan time.Time
	for quit == 0 || len(running) > 0 {
		select {
		case c := <-conns:
			if quit != 0 {
				c.file.Close()
				continue
			}
			cmd, err := a.startConn(c)
			c.file.Close()
			if err != nil {
				fmt.Fprintf(a.stderr, "socket-activate: %v\n", err)
				continue
			}
			running[cmd.Process.Pid] = cmd
			go func() {
				cmd.Wait()
				exited <- cmd.Process.Pid
			}()
		case pid := <-exited:
			// In systemd-socket-activate's words: the code is the exit
			// status, or the number of the signal that ended the program.
			end := endLike(running[pid].ProcessState)
			code := end.code
			if end.sig != 0 {
				code = int(end.sig)
			}
			fmt.Fprintf(a.stderr, "Child %d died with code %d\n", pid, code)
			delete(running, pid)
		case err := <-failed:
			fmt.Fprintf(a.stderr, "socket-activate: %v\n", err)
			return exitCode(1)
		case s := <-a.sigs:
			sig := s.(syscall.Signal)
			if quit != 0 || harmless(sig) {
				// The programs are not passed signals, as
				// systemd-socket-activate passes them none.
				continue
			}
			quit = sig
			fmt.Fprintf(a.stderr, "socket-activate: %v: no longer accepting; stopping %s with SIGTERM\n", sig, count(len(running), "program"))
			for pid := range running {
				unix.Kill(pid, syscall.SIGTERM)
			}
			kill = time.After(stopTimeout)
		case <-kill:
			fmt.Fprintf(a.stderr, "socket-activate: %s still running %v after SIGTERM; sending SIGKILL\n", count(len(running), "program"), stopTimeout)
			for pid := range running {
				unix.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return ending{sig: quit}
}

// conn is an accepted connection.
type conn struct {
	file  *os.File // blocking, close-on-exec; the receiver closes it
	peer  unix.Sockaddr
	index int // of the listening socket
	// The peer's and the local address as systemd-socket-activate prints
	// them: an IPv4 peer on an IPv6 socket as IPv4, a unix peer by its
	// credentials.
	peerName, localName string
}

// acceptAll accepts connections on the non-blocking listening socks and
// sends them to conns, until an error.
func acceptAll(socks []int, conns chan<- conn) error {
	for {
		ready, err := pollIn(socks)
		if err != nil {
			return err
		}
		for _, i := range ready {
			syscall.ForkLock.RLock()
			fd, peer, err := unix.Accept(socks[i])
			if err == nil {
				unix.CloseOnExec(fd)
			}
			syscall.ForkLock.RUnlock()
			switch err {
			case nil:
			case unix.EAGAIN, unix.ECONNABORTED, unix.EINTR:
				continue
			default:
				return os.NewSyscallError("accept", err)
			}
			// Accepted sockets inherit O_NONBLOCK on the BSDs.
			if err := unix.SetNonblock(fd, false); err != nil {
				unix.Close(fd)
				return os.NewSyscallError("fcntl", err)
			}
			conns <- conn{file: os.NewFile(uintptr(fd), formatSockaddr(peer)), peer: peer, index: i,
				peerName: peerName(fd, peer), localName: localAddr(fd)}
		}
	}
}

// peerName returns the peer of the connection fd as
// systemd-socket-activate prints it: "PID 12/UID 0" for a unix peer where
// the system tells ("n/a" elsewhere), an IPv4-mapped IPv6 address as IPv4.
func peerName(fd int, peer unix.Sockaddr) string {
	switch sa := peer.(type) {
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)).String()
	case *unix.SockaddrUnix:
		return unixPeerCred(fd)
	case nil:
		// Some systems give no address for an unnamed unix peer.
		return unixPeerCred(fd)
	}
	return formatSockaddr(peer)
}

// startConn starts a program for connection c: on fd 3, or on stdin and
// stdout with --inetd.
func (a *activator) startConn(c conn) (*exec.Cmd, error) {
	remote := remoteEnv(c.peer)
	var cmd *exec.Cmd
	if a.opts.inetd {
		cmd = a.command(nil, nil, remote...)
		cmd.Stdin, cmd.Stdout = c.file, c.file
	} else {
		cmd = a.command([]*os.File{c.file}, []string{a.acceptName(c.index)}, remote...)
	}
	fmt.Fprintf(a.stderr, "Communication attempt on fd %d.\n", 3+c.index)
	fmt.Fprintf(a.stderr, "Connection from %s to %s\n", c.peerName, c.localName)
	cmd, err := startProgram(cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot start %q: %w", a.prog, err)
	}
	fmt.Fprintf(a.stderr, "Spawned %s (%s) as PID %d.\n", a.opts.argv[0], strings.Join(a.opts.argv, " "), cmd.Process.Pid)
	fmt.Fprintf(a.stderr, "%s\n", a.execing())
	return cmd, nil
}

// execing is the line systemd-socket-activate prints as it executes the
// program: its name as given, then the arguments joined by spaces.
func (a *activator) execing() string {
	return fmt.Sprintf("Execing %s (%s)", a.opts.argv[0], strings.Join(a.opts.argv, " "))
}

// pollIn waits until at least one of fds is readable and returns their
// indexes.
func pollIn(fds []int) ([]int, error) {
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	for {
		_, err := unix.Poll(pfds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("poll", err)
		}
		var ready []int
		for i, p := range pfds {
			if p.Revents&unix.POLLNVAL != 0 {
				return nil, os.NewSyscallError("poll", unix.EBADF)
			}
			if p.Revents != 0 {
				ready = append(ready, i)
			}
		}
		if len(ready) > 0 {
			return ready, nil
		}
	}
}
