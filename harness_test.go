//go:build unix

package activation_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation"
	"golang.org/x/sys/unix"
)

// The test binary re-runs itself as the activated child: ExtraFiles become
// fds 3, 4, …, and the child runs the scenario that childEnv names and
// prints its report as JSON.
const childEnv = "ACTIVATION_TEST_CHILD"

// reportEnv names a file for the child's report instead of its standard
// output.
const reportEnv = "ACTIVATION_TEST_REPORT"

// callsEnv holds the calls of the "calls" scenario, as JSON.
const callsEnv = "ACTIVATION_TEST_CALLS"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// A scenario is what a child does, reporting what it found in r.
type scenario func(r *report)

// scenarios are the children's scenarios by name. Each test file adds its
// own in an init function.
var scenarios = map[string]scenario{
	"calls":   childCalls,
	"race":    func(r *report) { *r = childRace() },
	"hostile": func(r *report) { *r = childHostile() },
	"resolve": func(r *report) { *r = childResolve() },
}

// report is what a child found, sent to the parent as JSON.
type report struct {
	Calls      []callResult
	EnvLeft    []string // LISTEN_* variables still set after the calls
	NotCloexec []int    // inherited fds without FD_CLOEXEC after the first call
	FDsBefore  int      // open fds before the first call
	FDsHeld    int      // open fds while every value handed out is held
	FDsAfter   int      // open fds after every value is closed
	Serve      []string // what went wrong using the values
	Inherited  []string
	Inodes     []uint64 // for the race scenario: the inode of every value handed out
	Elapsed    time.Duration
	Allocated  uint64
	OpenBefore []int    // fds among 3…9 open before the first call
	OpenAfter  []int    // fds among 3…9 open at the end
	OwnFD      int      // the fd of the child's own listener, if it made one
	Shown      string   // what the fd ACTIVATION_TEST_SHOW_FD names, before the calls
	Stdio      []string // what fds 0 and 1 name after the calls
	Lines      []string // what a scenario saw, to compare
	Problems   []string // what went wrong, which a passing run has none of
}

func (r *report) line(format string, args ...any) {
	r.Lines = append(r.Lines, fmt.Sprintf(format, args...))
}

func (r *report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

type callResult struct {
	Call  string
	Err   string
	Items []string
}

// childProc describes a child run: the scenario, the files to pass as fds
// 3, 4, …, extra environment, and for the "calls" scenario the calls to
// make. LISTEN_PID=self is replaced by the child's pid.
type childProc struct {
	scenario string
	files    []*os.File
	env      []string
	calls    []call
	dir      string   // the child's working directory, if not the test's
	stdin    *os.File // the child's standard input, if not /dev/null
}

func run(t *testing.T, c childProc) report {
	t.Helper()
	return runCmd(t, c.scenario, childCommand(c))
}

// childCommand is the command that runs the test binary as the child c
// describes; runCmd sets its scenario and standard output and error.
func childCommand(c childProc) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), c.env...)
	if c.calls != nil {
		cmd.Env = append(cmd.Env, callsEnv+"="+encodeCalls(c.calls))
	}
	cmd.ExtraFiles = c.files
	cmd.Dir = c.dir
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	return cmd
}

// runCmd runs cmd, a re-run of the test binary, as the child for scenario
// and returns its report.
func runCmd(t *testing.T, scenario string, cmd *exec.Cmd) report {
	t.Helper()
	r, err := runChildCmd(scenario, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runChildCmd is runCmd for any goroutine: it returns what failed rather
// than failing the test.
func runChildCmd(scenario string, cmd *exec.Cmd) (report, error) {
	var r report
	// GORACE: the race detector otherwise sleeps a second at exit.
	cmd.Env = append(cmd.Env, childEnv+"="+scenario, "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return r, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return r, fmt.Errorf("child %s: %v\nstderr:\n%s", scenario, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		return r, fmt.Errorf("child %s did not finish in 60s; stderr:\n%s", scenario, stderr.String())
	}
	out := stdout.Bytes()
	for _, kv := range cmd.Env {
		if path, ok := strings.CutPrefix(kv, reportEnv+"="); ok {
			var err error
			if out, err = os.ReadFile(path); err != nil {
				return r, fmt.Errorf("child %s: %v\nstderr:\n%s", scenario, err, stderr.String())
			}
		}
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("child %s: bad report %q: %v\nstderr:\n%s", scenario, out, err, stderr.String())
	}
	return r, nil
}

// runChild runs the scenario name in the child and prints its report.
func runChild(name string) int {
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	if v := os.Getenv("LISTEN_PIDFDID"); v == "self" || v == "other" {
		setPidfdID(v == "other")
	}
	s, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", name)
		return 2
	}
	var r report
	s(&r)
	out := os.Stdout
	if path := os.Getenv(reportEnv); path != "" {
		// Standard output may be a socket under test.
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		out = f
	}
	if err := json.NewEncoder(out).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// A call is one call of the package that a child makes: Fn names the
// function, the other fields are its arguments. Tests write calls with the
// constructors below; the child makes them with the function callers
// holds for Fn.
type call struct {
	Fn      string
	Network string `json:",omitempty"`
	Address string `json:",omitempty"`
	Name    string `json:",omitempty"` // ConnsNamed's name
	Config  bool   `json:",omitempty"` // the TLS calls: a *tls.Config, else nil
	Unused  bool   `json:",omitempty"` // PacketConns: no datagram is sent on what it returns
}

func listenersCall() call            { return call{Fn: "Listeners"} }
func listenersWithNamesCall() call   { return call{Fn: "ListenersWithNames"} }
func namedListenersCall() call       { return call{Fn: "NamedListeners"} }
func packetConnsCall() call          { return call{Fn: "PacketConns"} }
func packetConnsUnusedCall() call    { return call{Fn: "PacketConns", Unused: true} }
func packetConnsWithNamesCall() call { return call{Fn: "PacketConnsWithNames"} }
func connsCall() call                { return call{Fn: "Conns"} }
func connsNamedCall(name string) call {
	return call{Fn: "ConnsNamed", Name: name}
}
func filesCall() call        { return call{Fn: "Files"} }
func tlsListenersCall() call { return call{Fn: "TLSListeners"} }
func tlsListenersWithNamesCall(config bool) call {
	return call{Fn: "TLSListenersWithNames", Config: config}
}
func listenCall(network, address string) call {
	return call{Fn: "Listen", Network: network, Address: address}
}
func listenPacketCall(network, address string) call {
	return call{Fn: "ListenPacket", Network: network, Address: address}
}
func stdinInfoCall() call       { return call{Fn: "StdinInfo"} }
func stdinListenerCall() call   { return call{Fn: "StdinListener"} }
func stdinPacketConnCall() call { return call{Fn: "StdinPacketConn"} }
func stdinConnCall() call       { return call{Fn: "StdinConn"} }

// String is the call as the tests show it: "Listen tcp sd-listen:web".
func (c call) String() string {
	switch {
	case c.Network != "":
		return c.Fn + " " + c.Network + " " + c.Address
	case c.Name != "":
		return c.Fn + " " + c.Name
	case c.Fn == "TLSListenersWithNames" && !c.Config:
		return c.Fn + " nil"
	case c.Unused:
		return c.Fn + " unused"
	}
	return c.Fn
}

func encodeCalls(calls []call) string {
	b, err := json.Marshal(calls)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func decodeCalls(s string) []call {
	var calls []call
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), &calls); err != nil {
		panic(err)
	}
	return calls
}

// held collects what a call hands out: how each value is described, the
// problems using it, and how to close it.
type held struct {
	call    call
	items   []string
	closers []func() error
	serve   []string
}

// add records v, a value named name (its fd's name, or ""), and checks it
// works with use.
func (h *held) add(name string, v io.Closer, use func() error) {
	h.items = append(h.items, describe(name, v))
	if err := use(); err != nil {
		h.serve = append(h.serve, fmt.Sprintf("%s %s: %v", h.call, describe(name, v), err))
	}
	h.closers = append(h.closers, v.Close)
}

func noUse() error { return nil }

// sayHello writes a greeting on a connection handed out, which the test
// reads on the other end.
func sayHello(c net.Conn) func() error {
	return func() error { _, err := c.Write([]byte("hello from the child")); return err }
}

// callers make each kind of call in the child.
var callers = map[string]func(c call, h *held) error{
	"Listeners": func(_ call, h *held) error {
		ls, err := activation.Listeners()
		for _, l := range ls {
			h.add("", l, func() error { return serveOnce(l) })
		}
		return err
	},
	"ListenersWithNames": func(_ call, h *held) error {
		m, err := activation.ListenersWithNames()
		for _, name := range sortedKeys(m) {
			for _, l := range m[name] {
				h.add(name, l, func() error { return serveOnce(l) })
			}
		}
		return err
	},
	"NamedListeners": func(_ call, h *held) error {
		ls, err := activation.NamedListeners()
		for _, l := range ls {
			h.items = append(h.items, describe(l.Name, l.Listener))
			if err := serveOnce(l); err != nil { // a NamedListener is a net.Listener
				h.serve = append(h.serve, fmt.Sprintf("%s %s: %v", h.call, describe(l.Name, l.Listener), err))
			}
			h.closers = append(h.closers, l.Close)
		}
		return err
	},
	"PacketConns": func(c call, h *held) error {
		pcs, err := activation.PacketConns()
		for _, pc := range pcs {
			use := func() error { return echoSelf(pc) }
			if c.Unused {
				use = noUse
			}
			h.add("", pc, use)
		}
		return err
	},
	"PacketConnsWithNames": func(_ call, h *held) error {
		m, err := activation.PacketConnsWithNames()
		for _, name := range sortedKeys(m) {
			for _, pc := range m[name] {
				h.add(name, pc, func() error { return echoSelf(pc) })
			}
		}
		return err
	},
	"Conns": func(_ call, h *held) error {
		cs, err := activation.Conns()
		for _, c := range cs {
			h.add("", c, sayHello(c))
		}
		return err
	},
	"ConnsNamed": func(c call, h *held) error {
		cs, err := activation.ConnsNamed(c.Name)
		for _, c := range cs {
			h.add("", c, sayHello(c))
		}
		return err
	},
	"Files": func(_ call, h *held) error {
		fs, err := activation.Files()
		for _, f := range fs {
			h.add("", f, noUse)
		}
		return err
	},
	"TLSListeners": func(_ call, h *held) error {
		ls, err := activation.TLSListeners(nil)
		for _, l := range ls {
			h.add("", l, noUse)
		}
		return err
	},
	"TLSListenersWithNames": func(c call, h *held) error {
		var config *tls.Config
		if c.Config {
			config = &tls.Config{}
		}
		m, err := activation.TLSListenersWithNames(config)
		for _, name := range sortedKeys(m) {
			for _, l := range m[name] {
				h.add(name, l, noUse)
			}
		}
		return err
	},
	"Listen": func(c call, h *held) error {
		l, err := activation.Listen(c.Network, c.Address)
		if err == nil {
			h.add("", l, func() error { return serveOnce(l) })
		}
		return err
	},
	"ListenPacket": func(c call, h *held) error {
		pc, err := activation.ListenPacket(c.Network, c.Address)
		if err == nil {
			h.add("", pc, func() error { return echoSelf(pc) })
		}
		return err
	},
	"StdinInfo": func(_ call, h *held) error {
		info, err := activation.StdinInfo()
		if err == nil {
			h.items = append(h.items, info.String())
		}
		return err
	},
	"StdinListener": func(_ call, h *held) error {
		l, err := activation.StdinListener()
		if err == nil {
			h.add("", l, func() error { return serveOnce(l) })
		}
		return err
	},
	"StdinPacketConn": func(_ call, h *held) error {
		pc, err := activation.StdinPacketConn()
		if err == nil {
			h.add("", pc, func() error { return echoSelf(pc) })
		}
		return err
	},
	"StdinConn": func(_ call, h *held) error {
		c, err := activation.StdinConn()
		if err == nil {
			h.add("", c, sayHello(c))
		}
		return err
	},
}

// childCalls makes the calls in order, records what each returns, checks
// the environment, the flags and the fd counts, and uses every value.
func childCalls(r *report) {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if dir := os.Getenv("ACTIVATION_TEST_CHDIR"); dir != "" {
		if err := os.Chdir(dir); err != nil {
			panic(err)
		}
	}
	var own net.Listener
	if os.Getenv("ACTIVATION_TEST_OWN") == "listener" {
		own = ownListenerOnLowestFD()
	}
	startNetpoll()
	r.FDsBefore = countFDs()
	if fd := os.Getenv("ACTIVATION_TEST_SHOW_FD"); fd != "" {
		r.Shown, _ = os.Readlink("/proc/self/fd/" + fd)
	}
	var closers []func() error
	for i, c := range decodeCalls(os.Getenv(callsEnv)) {
		h, err := makeCall(c)
		res := callResult{Call: c.String(), Items: h.items}
		if err != nil {
			res.Err = err.Error()
		}
		r.Calls = append(r.Calls, res)
		r.Serve = append(r.Serve, h.serve...)
		closers = append(closers, h.closers...)
		if i == 0 {
			for _, k := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if _, ok := os.LookupEnv(k); ok {
					r.EnvLeft = append(r.EnvLeft, k)
				}
			}
			for fd := 3; fd < 3+n; fd++ {
				if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
					r.NotCloexec = append(r.NotCloexec, fd)
				}
			}
		}
	}
	infos, err := activation.Inherited()
	if err != nil {
		r.Inherited = []string{"error: " + err.Error()}
	}
	for _, info := range infos {
		r.Inherited = append(r.Inherited, info.String())
	}
	r.FDsHeld = countFDs()
	for _, fd := range []string{"0", "1"} {
		link, _ := os.Readlink("/proc/self/fd/" + fd)
		r.Stdio = append(r.Stdio, link)
	}
	if own != nil {
		r.OwnFD = fdOf(own.(syscall.Conn))
		if err := serveOnce(own); err != nil {
			r.Serve = append(r.Serve, "the child's own listener: "+err.Error())
		}
		own.Close()
	}
	// The runtime's poller still works: no call closed its fds.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err != nil {
		r.Serve = append(r.Serve, "a new listener after the calls: "+err.Error())
	} else {
		if err := serveOnce(l); err != nil {
			r.Serve = append(r.Serve, "a new listener after the calls: "+err.Error())
		}
		l.Close()
	}
	for _, c := range closers {
		if err := c(); err != nil {
			r.Serve = append(r.Serve, "close: "+err.Error())
		}
	}
	runtime.GC()
	r.FDsAfter = countFDs()
}

// makeCall makes c and returns what it handed out and its error.
func makeCall(c call) (held, error) {
	h := held{call: c}
	f, ok := callers[c.Fn]
	if !ok {
		return h, fmt.Errorf("no caller for %q", c.Fn)
	}
	return h, f(c, &h)
}

// childRace claims from many goroutines at once and reports the inode of
// every value handed out.
func childRace() report {
	var r report
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 48; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var inodes []uint64
			var errs []string
			switch g % 4 {
			case 0:
				ls, err := activation.Listeners()
				if err != nil {
					errs = append(errs, err.Error())
				}
				for _, l := range ls {
					inodes = append(inodes, inodeOf(l.(syscall.Conn)))
				}
			case 1:
				pcs, err := activation.PacketConns()
				if err != nil {
					errs = append(errs, err.Error())
				}
				for _, pc := range pcs {
					inodes = append(inodes, inodeOf(pc.(syscall.Conn)))
				}
			case 2:
				fs, err := activation.Files()
				if err != nil {
					errs = append(errs, err.Error())
				}
				for _, f := range fs {
					inodes = append(inodes, inodeOf(f))
				}
			case 3:
				l, err := activation.Listen("tcp", "sd-listen:race")
				if err == nil {
					inodes = append(inodes, inodeOf(l.(syscall.Conn)))
				}
			}
			mu.Lock()
			r.Inodes = append(r.Inodes, inodes...)
			r.Serve = append(r.Serve, errs...)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	sort.Slice(r.Inodes, func(i, j int) bool { return r.Inodes[i] < r.Inodes[j] })
	return r
}

// childHostile makes one call under whatever environment it was given,
// measuring time and allocation, then a second call, and reports which of
// fds 3…9 are open afterwards.
func childHostile() report {
	if os.Getenv("ACTIVATION_TEST_OPEN") != "" {
		// As the runtime does before main: a file of the process's own,
		// close-on-exec, on the lowest free fd.
		f, err := os.Open(os.DevNull)
		if err != nil {
			panic(err)
		}
		ownFile = f
	}
	if fd, err := strconv.Atoi(os.Getenv("ACTIVATION_TEST_MARK")); err == nil {
		// As libsystemd's sd_listen_fds(0) does when other code calls it first.
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	if n, err := strconv.Atoi(os.Getenv("ACTIVATION_TEST_NAMES")); err == nil {
		// A value too long to pass through exec (128 KiB at most).
		os.Setenv("LISTEN_FDNAMES", strings.Repeat("name:", n)+"name")
	}
	r := report{OpenBefore: openAmong3to9()}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fs, err := activation.Files()
	r.Elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	r.Allocated = after.TotalAlloc - before.TotalAlloc
	res := callResult{Call: "Files"}
	if err != nil {
		res.Err = err.Error()
	}
	for _, f := range fs {
		res.Items = append(res.Items, describe("", f))
	}
	r.Calls = append(r.Calls, res)
	_, err = activation.Listeners()
	res = callResult{Call: "Listeners"}
	if err != nil {
		res.Err = err.Error()
	}
	r.Calls = append(r.Calls, res)
	for _, k := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			r.EnvLeft = append(r.EnvLeft, k)
		}
	}
	runtime.GC()
	runtime.GC()
	r.OpenAfter = openAmong3to9()
	for _, fd := range r.OpenAfter {
		if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
			r.NotCloexec = append(r.NotCloexec, fd)
		}
	}
	return r
}

// childResolve calls Listen with a host name while the resolver blocks,
// and checks that meanwhile the process can start a child process and the
// package answers: no lock is held while a name is resolved.
func childResolve() report {
	var r report
	asked := make(chan struct{}, 1)
	release := make(chan struct{})
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-release
		return nil, errors.New("the test's resolver answers nothing")
	}}
	done := make(chan struct{})
	go func() {
		if l, err := activation.Listen("tcp", "blocked.invalid:"+os.Getenv("ACTIVATION_TEST_PORT")); err == nil {
			l.Close()
		}
		close(done)
	}()
	within := func(what string, f func() error) {
		ch := make(chan error, 1)
		go func() { ch <- f() }()
		select {
		case err := <-ch:
			if err != nil {
				r.Serve = append(r.Serve, what+": "+err.Error())
			}
		case <-time.After(10 * time.Second):
			r.Serve = append(r.Serve, what+" waited 10s for a host name to be resolved")
		}
	}
	select {
	case <-asked:
		within("starting a child process", func() error { return exec.Command("true").Run() })
		within("Inherited", func() error { _, err := activation.Inherited(); return err })
	case <-time.After(20 * time.Second):
		r.Serve = append(r.Serve, "Listen never asked the resolver")
	}
	close(release)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		r.Serve = append(r.Serve, "Listen did not return once the resolver answered")
	}
	return r
}

// ownFile keeps the file childHostile opens reachable.
var ownFile *os.File

func openAmong3to9() []int {
	var open []int
	for fd := 3; fd <= 9; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			open = append(open, fd)
		}
	}
	return open
}

// describe names a value by its type and addresses, which the parent knows.
func describe(name string, v any) string {
	prefix := ""
	if name != "" {
		prefix = name + "="
	}
	switch v := v.(type) {
	case *os.File:
		var st unix.Stat_t
		unix.Fstat(int(v.Fd()), &st)
		return fmt.Sprintf("%s*os.File %s mode %o", prefix, v.Name(), st.Mode&unix.S_IFMT)
	case net.Listener:
		return fmt.Sprintf("%s%T %s %s", prefix, v, v.Addr().Network(), v.Addr())
	case net.Conn:
		return fmt.Sprintf("%s%T %s %s", prefix, v, v.LocalAddr().Network(), v.LocalAddr())
	case net.PacketConn:
		return fmt.Sprintf("%s%T %s %s", prefix, v, v.LocalAddr().Network(), v.LocalAddr())
	}
	return fmt.Sprintf("%s%T", prefix, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serveOnce proves a listener accepts: it dials it and exchanges a byte.
func serveOnce(l net.Listener) error {
	a := l.Addr()
	network := a.Network()
	if strings.HasPrefix(fmt.Sprintf("%T", l), "*tls.") {
		return nil // accepting is tls's business
	}
	c, err := net.DialTimeout(network, a.String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		s, err := l.Accept()
		if err == nil {
			_, err = s.Write([]byte{42})
			s.Close()
		}
		done <- err
	}()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 42 {
		return fmt.Errorf("read %v: %v", b, err)
	}
	return <-done
}

// echoSelf proves a datagram socket works: it sends itself a datagram.
func echoSelf(pc net.PacketConn) error {
	if pc.LocalAddr().String() == "" {
		return nil // an unbound unixgram socket cannot be sent to
	}
	if _, err := pc.WriteTo([]byte("ping"), pc.LocalAddr()); err != nil {
		return err
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 16)
	n, _, err := pc.ReadFrom(b)
	if err != nil || string(b[:n]) != "ping" {
		return fmt.Errorf("read %q: %v", b[:n], err)
	}
	return nil
}

// ownListenerOnLowestFD opens a listener of the process's own on the
// lowest free fd, as a program does before its first call of the package:
// a placeholder holds that fd while the runtime's poller opens its fds.
func ownListenerOnLowestFD() net.Listener {
	placeholder, err := os.Open(os.DevNull)
	if err != nil {
		panic(err)
	}
	startNetpoll()
	placeholder.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return l
}

func fdOf(c syscall.Conn) int {
	fd := -1
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(s uintptr) { fd = int(s) })
	}
	return fd
}

// startNetpoll makes the runtime open its poller's fds now, so that they
// do not count as fds the package made.
func startNetpoll() {
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // ReadDir's own fd
}

func inodeOf(c syscall.Conn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Stat_t
	rc.Control(func(fd uintptr) { unix.Fstat(int(fd), &st) })
	return st.Ino
}

type passed struct {
	file *os.File // what goes into ExtraFiles
	desc string   // how the child describes the value made of it
}

func fileOf(t *testing.T, v interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := v.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tcpListener(t *testing.T, network, addr string) (passed, net.Listener) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return passed{fileOf(t, l.(*net.TCPListener)), fmt.Sprintf("*net.TCPListener tcp %s", l.Addr())}, l
}

func unixListener(t *testing.T, network, path string) passed {
	t.Helper()
	l, err := net.Listen(network, path)
	if err != nil {
		t.Fatal(err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	t.Cleanup(func() { l.Close() })
	return passed{fileOf(t, ul), fmt.Sprintf("*net.UnixListener %s %s", network, path)}
}

func udpConn(t *testing.T, network, addr string) passed {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return passed{fileOf(t, pc.(*net.UDPConn)), fmt.Sprintf("*net.UDPConn udp %s", pc.LocalAddr())}
}

func unixgramConn(t *testing.T, path string) passed {
	t.Helper()
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return passed{fileOf(t, pc.(*net.UnixConn)), fmt.Sprintf("*net.UnixConn unixgram %s", path)}
}

// tcpConnPair returns the server side of a loopback connection, to pass,
// and the client side, which the test keeps.
func tcpConnPair(t *testing.T) (passed, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	return passed{fileOf(t, server.(*net.TCPConn)), fmt.Sprintf("*net.TCPConn tcp %s", server.LocalAddr())}, client
}

func pipeReader(t *testing.T) passed {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return passed{r, ""}
}

func regularFile(t *testing.T) passed {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return passed{f, ""}
}

func filesOf(ps ...passed) []*os.File {
	fs := make([]*os.File, len(ps))
	for i, p := range ps {
		fs[i] = p.file
	}
	return fs
}

func activated(n int, names ...string) []string {
	env := []string{"LISTEN_PID=self", "LISTEN_FDS=" + strconv.Itoa(n)}
	if names != nil {
		env = append(env, "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return env
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s:\n-want %#v\n+got  %#v", what, want, got)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func runHostile(t *testing.T, files []*os.File, env []string) report {
	return run(t, childProc{scenario: "hostile", files: files, env: env})
}

// socketpair makes a unix socket pair of type typ, close-on-exec. Not
// every system has SOCK_CLOEXEC: the flag is set under the fork lock.
func socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// nonBlockingSocket is one end of a socket pair in non-blocking mode; the
// test keeps the other end until it ends.
func nonBlockingSocket(t *testing.T) *os.File {
	t.Helper()
	fds, err := socketpair(unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	ours, peer := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { ours.Close(); peer.Close() })
	return ours
}

// nonBlockingFileOf duplicates the socket of c into an *os.File that
// exec passes as it is, non-blocking, as systemd passes sockets with
// NonBlocking=yes. (The *os.File of a net value's File method is put in
// blocking mode when exec passes it.)
func nonBlockingFileOf(t *testing.T, c syscall.Conn) *os.File {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	var dupErr error
	syscall.ForkLock.RLock()
	rc.Control(func(s uintptr) { fd, dupErr = unix.Dup(int(s)) })
	if dupErr == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if dupErr != nil {
		t.Fatal(dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "nonblocking")
	t.Cleanup(func() { f.Close() })
	return f
}

func isNonBlocking(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && flags&unix.O_NONBLOCK != 0
}
