//go:build unix

package activation_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
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
// fds 3, 4, …, and the child runs the scenario that childEnv names.
const childEnv = "ACTIVATION_TEST_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// report is what a child found, sent to the parent as JSON on stdout.
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
}

type callResult struct {
	Call  string
	Err   string
	Items []string
}

// childProc describes a child run: the files to pass, the calls to make
// and extra environment. LISTEN_PID=self is replaced by the child's pid.
type childProc struct {
	scenario string
	files    []*os.File
	env      []string
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
	// GORACE: the race detector otherwise sleeps a second at exit.
	cmd.Env = append(cmd.Env, childEnv+"="+scenario, "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child %s: %v\nstderr:\n%s", scenario, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("child %s did not finish in 60s; stderr:\n%s", scenario, stderr.String())
	}
	var r report
	out := stdout.Bytes()
	for _, kv := range cmd.Env {
		if path, ok := strings.CutPrefix(kv, reportEnv+"="); ok {
			var err error
			if out, err = os.ReadFile(path); err != nil {
				t.Fatalf("child %s: %v\nstderr:\n%s", scenario, err, stderr.String())
			}
		}
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child %s: bad report %q: %v\nstderr:\n%s", scenario, stdout.String(), err, stderr.String())
	}
	return r
}

func runChild(name string) int {
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	if v := os.Getenv("LISTEN_PIDFDID"); v == "self" || v == "other" {
		setPidfdID(v == "other")
	}
	var r report
	switch name {
	case "calls":
		r = childCalls(strings.Split(os.Getenv("ACTIVATION_TEST_CALLS"), ","))
	case "race":
		r = childRace()
	case "hostile":
		r = childHostile()
	case "resolve":
		r = childResolve()
	default:
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", name)
		return 2
	}
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

// reportEnv names a file for the child's report instead of its standard
// output.
const reportEnv = "ACTIVATION_TEST_REPORT"

// childCalls makes the calls in order, records what each returns, checks
// the environment, the flags and the fd counts, and uses every value.
func childCalls(calls []string) report {
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
	r := report{FDsBefore: countFDs()}
	if fd := os.Getenv("ACTIVATION_TEST_SHOW_FD"); fd != "" {
		r.Shown, _ = os.Readlink("/proc/self/fd/" + fd)
	}
	var held []func() error
	for i, call := range calls {
		res := callResult{Call: call}
		items, closers, err := doCall(call, &r)
		if err != nil {
			res.Err = err.Error()
		}
		res.Items = items
		held = append(held, closers...)
		r.Calls = append(r.Calls, res)
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
	for _, c := range held {
		if err := c(); err != nil {
			r.Serve = append(r.Serve, "close: "+err.Error())
		}
	}
	runtime.GC()
	r.FDsAfter = countFDs()
	return r
}

func doCall(call string, r *report) (items []string, closers []func() error, err error) {
	add := func(name string, v any, use func() error) {
		items = append(items, describe(name, v))
		if err := use(); err != nil {
			r.Serve = append(r.Serve, fmt.Sprintf("%s %s: %v", call, describe(name, v), err))
		}
		closers = append(closers, v.(interface{ Close() error }).Close)
	}
	switch {
	case call == "Listeners":
		var ls []net.Listener
		ls, err = activation.Listeners()
		for _, l := range ls {
			add("", l, func() error { return serveOnce(l) })
		}
	case call == "TLSListeners":
		var ls []net.Listener
		ls, err = activation.TLSListeners(nil)
		for _, l := range ls {
			add("", l, func() error { return nil })
		}
	case call == "TLSListenersWithNames nil", call == "TLSListenersWithNames":
		var config *tls.Config
		if call == "TLSListenersWithNames" {
			config = &tls.Config{}
		}
		var m map[string][]net.Listener
		m, err = activation.TLSListenersWithNames(config)
		for _, name := range sortedKeys(m) {
			for _, l := range m[name] {
				add(name, l, func() error { return nil })
			}
		}
	case call == "NamedListeners":
		var ls []activation.NamedListener
		ls, err = activation.NamedListeners()
		for _, l := range ls {
			add(l.Name, l.Listener, func() error { return serveOnce(l) })
		}
	case call == "StdinListener":
		var l net.Listener
		if l, err = activation.StdinListener(); err == nil {
			add("", l, func() error { return serveOnce(l) })
		}
	case call == "StdinPacketConn":
		var pc net.PacketConn
		if pc, err = activation.StdinPacketConn(); err == nil {
			add("", pc, func() error { return echoSelf(pc) })
		}
	case call == "StdinConn":
		var c net.Conn
		if c, err = activation.StdinConn(); err == nil {
			add("", c, func() error { _, err := c.Write([]byte("hello from the child")); return err })
		}
	case call == "StdinInfo":
		var info activation.Info
		if info, err = activation.StdinInfo(); err == nil {
			items = append(items, info.String())
		}
	case call == "ListenersWithNames":
		var m map[string][]net.Listener
		m, err = activation.ListenersWithNames()
		for _, name := range sortedKeys(m) {
			for _, l := range m[name] {
				add(name, l, func() error { return serveOnce(l) })
			}
		}
	case call == "PacketConns":
		var pcs []net.PacketConn
		pcs, err = activation.PacketConns()
		for _, pc := range pcs {
			add("", pc, func() error { return echoSelf(pc) })
		}
	case call == "PacketConnsWithNames":
		var m map[string][]net.PacketConn
		m, err = activation.PacketConnsWithNames()
		for _, name := range sortedKeys(m) {
			for _, pc := range m[name] {
				add(name, pc, func() error { return echoSelf(pc) })
			}
		}
	case call == "Conns":
		var cs []net.Conn
		cs, err = activation.Conns()
		for _, c := range cs {
			add("", c, func() error { _, err := c.Write([]byte("hello from the child")); return err })
		}
	case strings.HasPrefix(call, "ConnsNamed "):
		var cs []net.Conn
		cs, err = activation.ConnsNamed(strings.TrimPrefix(call, "ConnsNamed "))
		for _, c := range cs {
			add("", c, func() error { _, err := c.Write([]byte("hello from the child")); return err })
		}
	case call == "Files":
		var fs []*os.File
		fs, err = activation.Files()
		for _, f := range fs {
			add("", f, func() error { return nil })
		}
	case strings.HasPrefix(call, "Listen "), strings.HasPrefix(call, "ListenPacket "):
		f := strings.Fields(call)
		if f[0] == "Listen" {
			var l net.Listener
			if l, err = activation.Listen(f[1], f[2]); err == nil {
				add("", l, func() error { return serveOnce(l) })
			}
		} else {
			var pc net.PacketConn
			if pc, err = activation.ListenPacket(f[1], f[2]); err == nil {
				add("", pc, func() error { return echoSelf(pc) })
			}
		}
	default:
		err = fmt.Errorf("unknown call %q", call)
	}
	return items, closers, err
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

func inodeOf(c syscall.Conn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Stat_t
	rc.Control(func(fd uintptr) { unix.Fstat(int(fd), &st) })
	return st.Ino
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

// The parent's side: sockets and files to pass.

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
