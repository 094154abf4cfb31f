//go:build unix

package activation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

// The child scenarios of the tests in this file run from init, before
// TestMain, so that they need no case of their own in runChild.
const adversaryEnv = "ACTIVATION_ADVERSARY_CHILD"

func init() {
	name := os.Getenv(adversaryEnv)
	if name == "" {
		return
	}
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	scenario, ok := adversaryScenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown adversary scenario %q\n", name)
		os.Exit(2)
	}
	startNetpoll()
	var r advReport
	scenario(&r)
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// advReport is what an adversary child saw: lines to compare, and
// problems, which a passing run has none of.
type advReport struct {
	Lines    []string
	Problems []string
}

func (r *advReport) line(format string, args ...any) {
	r.Lines = append(r.Lines, fmt.Sprintf(format, args...))
}

func (r *advReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

var adversaryScenarios = map[string]func(*advReport){
	"listeners-served":  childListenersServed,
	"emfile":            childEMFILE,
	"race-every-call":   childRaceEveryCall,
	"describe-around":   childDescribeAround,
	"failed-then-calls": childFailedThenCalls,
}

// runAdversary runs the test binary as the child for scenario, with files
// as fds 3, 4, … and env added, and returns its report.
func runAdversary(t *testing.T, scenario string, files []*os.File, env ...string) advReport {
	t.Helper()
	r, err := adversaryChild(scenario, files, env...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// adversaryChild is runAdversary for any goroutine: it returns what
// failed rather than failing the test.
func adversaryChild(scenario string, files []*os.File, env ...string) (advReport, error) {
	var r advReport
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), adversaryEnv+"="+scenario, "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = files
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
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
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		return r, fmt.Errorf("child %s: bad report %q: %v\nstderr:\n%s", scenario, stdout.String(), err, stderr.String())
	}
	return r, nil
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

// childListenersServed takes every listener with Listeners and checks that
// each is a working listener of the runtime's poller (a deadline ends an
// Accept), that the process holds one fd per listener, and that closing
// them leaves nothing behind.
func childListenersServed(r *advReport) {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	var modes []string
	for fd := 3; fd < 3+n; fd++ {
		modes = append(modes, fmt.Sprintf("fd %d non-blocking %v", fd, isNonBlocking(fd)))
	}
	r.line("passed: %s", strings.Join(modes, ", "))
	before := countFDs()
	ls, err := activation.Listeners()
	if err != nil {
		r.problem("Listeners: %v", err)
	}
	r.line("Listeners: %d", len(ls))
	if held := countFDs(); held != before {
		r.problem("open fds: %d before Listeners, %d holding its %d listeners; want one fd per socket", before, held, len(ls))
	}
	for i, l := range ls {
		type deadliner interface{ SetDeadline(time.Time) error }
		if err := l.(deadliner).SetDeadline(time.Now().Add(-time.Second)); err != nil {
			r.problem("listener %d (%s): SetDeadline: %v", i, l.Addr(), err)
		} else if _, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
			r.problem("listener %d (%s): Accept past its deadline: %v, want a timeout", i, l.Addr(), err)
		}
		l.(deadliner).SetDeadline(time.Time{})
		if err := serveOnce(l); err != nil {
			r.problem("listener %d (%s): %v", i, l.Addr(), err)
		}
	}
	for _, l := range ls {
		l.Close()
	}
	if after := countFDs(); after != before-len(ls) {
		r.problem("open fds: %d before Listeners, %d after closing its %d listeners", before, after, len(ls))
	}
}

// failListenersMidway makes a Listeners call fail in the middle, on the
// second listener, by leaving no fd free for the duplicate the net
// package makes, and then frees the fds again. It reports whether the
// call failed as it should.
func failListenersMidway(r *advReport) bool {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		r.problem("getrlimit: %v", err)
		return false
	}
	// Inherited() learns everything it needs now, while fds are free.
	if _, err := activation.Inherited(); err != nil {
		r.problem("Inherited: %v", err)
	}
	// Fill every free fd below the highest open one, so that the next fd
	// is above all open ones, then allow exactly one more.
	var fillers []int
	defer func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	}()
	highest := 0
	for fd := 0; fd < 1024; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			highest = fd
		}
	}
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.problem("open: %v", err)
			return false
		}
		if fd > highest {
			unix.Close(fd)
			break
		}
		fillers = append(fillers, fd)
	}
	before := countFDs()
	tight := lim
	setLimit(&tight.Cur, highest+2) // fds up to highest+1: one free
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
		r.problem("setrlimit: %v", err)
		return false
	}
	ls, err := activation.Listeners()
	unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if len(ls) != 0 || !errors.Is(err, unix.EMFILE) {
		r.problem("Listeners with one fd free: %d listeners, %v; want none and EMFILE", len(ls), err)
		return false
	}
	if now := countFDs(); now != before {
		r.problem("open fds: %d before the failed call, %d after", before, now)
	}
	if os.Getenv("ACTIVATION_TEST_SHOW_ERROR") != "" {
		r.line("failed: %v", err)
	}
	return true
}

// setLimit sets an rlimit field, an int64 on some systems and a uint64 on
// others.
func setLimit[T ~int64 | ~uint64](p *T, v int) { *p = T(v) }

// childEMFILE makes Listeners fail in the middle of three listeners; then,
// with fds free again, Listeners must return all three.
func childEMFILE(r *advReport) {
	if !failListenersMidway(r) {
		return
	}
	before := countFDs()
	ls, err := activation.Listeners()
	if err != nil {
		r.problem("Listeners again: %v", err)
	}
	r.line("Listeners again: %d listeners", len(ls))
	for i, l := range ls {
		if err := serveOnce(l); err != nil {
			r.problem("listener %d: %v", i, err)
		}
	}
	if held := countFDs(); held != before {
		r.problem("open fds: %d before the second call, %d holding its %d listeners", before, held, len(ls))
	}
	for _, l := range ls {
		l.Close()
	}
	if after := countFDs(); after != before-len(ls) {
		r.problem("open fds: %d before the second call, %d after closing its listeners", before, after)
	}
	infos, _ := activation.Inherited()
	for _, i := range infos {
		if !i.Claimed {
			r.problem("after both calls: %s", i)
		}
	}
}

// childFailedThenCalls makes Listeners fail midway, then makes the calls
// that ACTIVATION_TEST_CALLS lists and describes the fds.
func childFailedThenCalls(r *advReport) {
	if !failListenersMidway(r) {
		return
	}
	os.Setenv("ACTIVATION_TEST_DESCRIBE_FIRST", "no")
	childDescribeAround(r)
}

// childRaceEveryCall calls every function of the package from many
// goroutines at once and checks that each inherited fd is handed out
// exactly once and that the values hold one fd each.
func childRaceEveryCall(r *advReport) {
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	want := map[uint64]int{}
	for fd := 3; fd < 3+n; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			r.problem("fd %d: %v", fd, err)
		}
		want[st.Ino] = fd
	}
	before := countFDs()
	port := os.Getenv("ACTIVATION_TEST_PORT")
	path := os.Getenv("ACTIVATION_TEST_PATH")
	// An error a call may rightly return when another goroutine was first.
	lost := []string{"address already in use", "no unclaimed", "already claimed", "choose one with"}
	var mu sync.Mutex
	var closers []func() error
	got := map[uint64][]string{}
	keep := func(call string, v any, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			for _, s := range lost {
				if strings.Contains(err.Error(), s) {
					return
				}
			}
			r.problem("%s: %v", call, err)
			return
		}
		if v == nil {
			return
		}
		var ino uint64
		switch v := v.(type) {
		case *os.File:
			ino = inodeOf(v)
		case syscall.Conn:
			ino = inodeOf(v)
		}
		got[ino] = append(got[ino], call)
		closers = append(closers, v.(interface{ Close() error }).Close)
	}
	calls := []func(){
		func() {
			ls, err := activation.Listeners()
			for _, l := range ls {
				keep("Listeners", l, nil)
			}
			keep("Listeners", nil, err)
		},
		func() {
			pcs, err := activation.PacketConns()
			for _, pc := range pcs {
				keep("PacketConns", pc, nil)
			}
			keep("PacketConns", nil, err)
		},
		func() {
			cs, err := activation.Conns()
			for _, c := range cs {
				keep("Conns", c, nil)
			}
			keep("Conns", nil, err)
		},
		func() {
			cs, err := activation.ConnsNamed("conn")
			for _, c := range cs {
				keep("ConnsNamed", c, nil)
			}
			keep("ConnsNamed", nil, err)
		},
		func() {
			fs, err := activation.Files()
			for _, f := range fs {
				keep("Files", f, nil)
			}
			keep("Files", nil, err)
		},
		func() {
			m, err := activation.ListenersWithNames()
			for _, ls := range m {
				for _, l := range ls {
					keep("ListenersWithNames", l, nil)
				}
			}
			keep("ListenersWithNames", nil, err)
		},
		func() {
			l, err := activation.Listen("tcp", "sd-listen:web")
			if err == nil {
				keep("Listen sd-listen:web", l, nil)
			} else {
				keep("Listen sd-listen:web", nil, err)
			}
		},
		func() {
			l, err := activation.Listen("tcp", "127.0.0.1:"+port)
			if err == nil {
				keep("Listen 127.0.0.1:port", l, nil)
			} else {
				keep("Listen 127.0.0.1:port", nil, err)
			}
		},
		func() {
			l, err := activation.Listen("unix", path)
			if err == nil {
				keep("Listen unix path", l, nil)
			} else {
				keep("Listen unix path", nil, err)
			}
		},
		func() {
			pc, err := activation.ListenPacket("udp", "sd-listen:dns")
			if err == nil {
				keep("ListenPacket sd-listen:dns", pc, nil)
			} else {
				keep("ListenPacket sd-listen:dns", nil, err)
			}
		},
		func() {
			infos, err := activation.Inherited()
			if err != nil || len(infos) != n {
				keep("Inherited", nil, fmt.Errorf("%d fds described, %v", len(infos), err))
			}
		},
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 4*len(calls); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			calls[g%len(calls)]()
		}()
	}
	close(start)
	wg.Wait()
	var lines []string
	for ino, calls := range got {
		fd, ok := want[ino]
		switch {
		case !ok:
			r.problem("a value of the package's own (inode %d), from %v", ino, calls)
		case len(calls) != 1:
			r.problem("fd %d handed out %d times: %v", fd, len(calls), calls)
		}
		lines = append(lines, fmt.Sprintf("fd %d", fd))
	}
	for ino, fd := range want {
		if _, ok := got[ino]; !ok {
			r.problem("fd %d never handed out", fd)
		}
	}
	sort.Strings(lines)
	r.Lines = lines
	if held := countFDs(); held != before {
		r.problem("open fds: %d before the calls, %d holding the %d values", before, held, len(closers))
	}
	for _, c := range closers {
		c()
	}
	if after := countFDs(); after != before-n {
		r.problem("open fds: %d before the calls, %d after closing every value", before, after)
	}
}

// childDescribeAround describes the fds with Inherited before and after
// the calls that ACTIVATION_TEST_CALLS lists, with what each returns.
func childDescribeAround(r *advReport) {
	inherited := func(when string) {
		infos, err := activation.Inherited()
		if err != nil {
			r.problem("Inherited %s: %v", when, err)
		}
		for _, i := range infos {
			r.line("%s: %s", when, i)
		}
	}
	if os.Getenv("ACTIVATION_TEST_DESCRIBE_FIRST") != "no" {
		inherited("before")
	}
	var closers []func() error
	for _, call := range strings.Split(os.Getenv("ACTIVATION_TEST_CALLS"), ",") {
		if call == "" {
			continue
		}
		var rep report
		var items []string
		var cs []func() error
		var err error
		if call == "PacketConns unused" {
			// PacketConns, without sending the sockets a datagram.
			var pcs []net.PacketConn
			pcs, err = activation.PacketConns()
			for _, pc := range pcs {
				items = append(items, describe("", pc))
				cs = append(cs, pc.Close)
			}
		} else {
			items, cs, err = doCall(call, &rep)
		}
		closers = append(closers, cs...)
		r.line("%s: %q, %v", call, items, err)
		for _, s := range rep.Serve {
			r.problem("%s", s)
		}
	}
	inherited("after")
	for _, c := range closers {
		c()
	}
}

func TestAdversaryMixedBlockingAndNonBlockingListeners(t *testing.T) {
	var files []*os.File
	var order []string
	for i, nonblock := range []bool{false, true, false, true, true, false} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if nonblock {
			files = append(files, nonBlockingFileOf(t, l.(*net.TCPListener)))
		} else {
			files = append(files, fileOf(t, l.(*net.TCPListener)))
		}
		order = append(order, fmt.Sprintf("fd %d non-blocking %v", 3+i, nonblock))
	}
	r := runAdversary(t, "listeners-served", files, activated(len(files))...)
	diff(t, "lines", []string{"passed: " + strings.Join(order, ", "), "Listeners: 6"}, r.Lines)
	diff(t, "problems", []string(nil), r.Problems)
}

func TestAdversaryAConversionFailingMidwayLosesNothing(t *testing.T) {
	var files []*os.File
	for i := 0; i < 3; i++ {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		files = append(files, p.file)
	}
	r := runAdversary(t, "emfile", files, activated(3)...)
	diff(t, "lines", []string{"Listeners again: 3 listeners"}, r.Lines)
	diff(t, "problems", []string(nil), r.Problems)
}

func TestAdversaryEveryCallAtOnce(t *testing.T) {
	var files []*os.File
	var names []string
	add := func(f *os.File, name string) {
		files = append(files, f)
		names = append(names, name)
	}
	for i := 0; i < 4; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if i%2 == 0 {
			add(fileOf(t, l.(*net.TCPListener)), "web")
		} else {
			add(nonBlockingFileOf(t, l.(*net.TCPListener)), "web")
		}
	}
	byAddr, byAddrL := tcpListener(t, "tcp4", "127.0.0.1:0")
	add(byAddr.file, "byaddr")
	path := activationtest.SocketPath(t, "sock")
	add(unixListener(t, "unix", path).file, "sock")
	for i := 0; i < 2; i++ {
		add(udpConn(t, "udp4", "127.0.0.1:0").file, "dns")
		c, _ := tcpConnPair(t)
		add(c.file, "conn")
	}
	add(pipeReader(t).file, "pipe")
	add(regularFile(t).file, "state")
	env := append(activated(len(files), names...),
		"ACTIVATION_TEST_PORT="+strconv.Itoa(byAddrL.Addr().(*net.TCPAddr).Port), "ACTIVATION_TEST_PATH="+path)
	for round := 0; round < 4; round++ {
		r := runAdversary(t, "race-every-call", files, env...)
		var want []string
		for fd := 3; fd < 3+len(files); fd++ {
			want = append(want, fmt.Sprintf("fd %d", fd))
		}
		sort.Strings(want)
		diff(t, fmt.Sprintf("round %d: fds handed out", round), want, r.Lines)
		diff(t, fmt.Sprintf("round %d: problems", round), []string(nil), r.Problems)
	}
}

// Binding port 0 binds a port of the kernel's choosing, which collides
// with nothing: ListenPacket(":0") makes a socket of its own even when an
// unbound UDP socket (whose address reads 0.0.0.0:0) was inherited.
func TestAdversaryPortZeroTakesNoInheritedSocket(t *testing.T) {
	for _, call := range []string{"ListenPacket udp :0", "ListenPacket udp4 0.0.0.0:0", "ListenPacket udp [::]:0"} {
		t.Run(call, func(t *testing.T) {
			syscall.ForkLock.RLock()
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err == nil {
				unix.CloseOnExec(fd)
			}
			syscall.ForkLock.RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			unbound := os.NewFile(uintptr(fd), "unbound")
			t.Cleanup(func() { unbound.Close() })
			r := runAdversary(t, "describe-around", []*os.File{unbound}, append(activated(1, "idle"), "ACTIVATION_TEST_CALLS="+call)...)
			diff(t, "problems", []string(nil), r.Problems)
			if len(r.Lines) != 3 || !strings.HasPrefix(r.Lines[1], call+`: ["*net.UDPConn udp`) || strings.Contains(r.Lines[1], ":0\"]") {
				t.Errorf("lines: %q; want a socket of the call's own, bound to a port", r.Lines)
			}
			if len(r.Lines) == 3 && r.Lines[2] != `after: fd 3 "idle": udp socket on 0.0.0.0:0` {
				t.Errorf("after the call: %q; want the inherited socket unclaimed", r.Lines[2])
			}
		})
	}
}

// A socket converted by a call that then failed is kept in the value made
// of it, and its original fd is closed: what Listen asks of the socket
// (is it IPv6-only?) must be asked of that value, not of the closed fd
// number. An IPv6-only [::]:P socket serves no IPv4, so Listen("tcp",
// "0.0.0.0:P") does not take it, parked or not.
func TestAdversaryListenAsksAParkedSocketNotItsClosedFD(t *testing.T) {
	only, ol := tcpListener(t, "tcp6", "[::]:0") // Go makes tcp6 wildcard sockets IPv6-only
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	call := fmt.Sprintf("Listen tcp 0.0.0.0:%d", ol.Addr().(*net.TCPAddr).Port)
	r := runAdversary(t, "failed-then-calls", filesOf(only, a, b), append(activated(3, "only", "a", "b"), "ACTIVATION_TEST_CALLS="+call)...)
	diff(t, "problems", []string(nil), r.Problems)
	if len(r.Lines) != 4 || !strings.HasPrefix(r.Lines[0], call+": [], ") || !strings.HasSuffix(r.Lines[0], "address already in use") {
		t.Errorf("lines: %q; want %s to fail as net.Listen does, address in use", r.Lines, call)
	}
	if len(r.Lines) == 4 && strings.HasSuffix(r.Lines[1], ", claimed") {
		t.Errorf("%s; want the IPv6-only socket unclaimed", r.Lines[1])
	}
}

// Inherited gives a connected datagram socket's peer before and after
// PacketConns hands it out.
func TestAdversaryAConnectedDatagramSocketKeepsItsPeer(t *testing.T) {
	server, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	c, err := net.Dial("udp4", server.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := runAdversary(t, "describe-around", []*os.File{fileOf(t, c.(*net.UDPConn))}, append(activated(1, "peer"), "ACTIVATION_TEST_CALLS=PacketConns unused")...)
	desc := fmt.Sprintf(`fd 3 "peer": udp connection on %s from %s`, c.LocalAddr(), c.RemoteAddr())
	diff(t, "lines", []string{
		"before: " + desc,
		fmt.Sprintf(`PacketConns unused: ["*net.UDPConn udp %s"], <nil>`, c.LocalAddr()),
		"after: " + desc + ", claimed",
	}, r.Lines)
}

// The error of a conversion that fails names the fd it failed on, and no
// other: converting through a carrier made of another fd must not lend
// the error that fd's name.
func TestAdversaryAConversionErrorNamesOnlyItsFD(t *testing.T) {
	a, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	b, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	c, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
	r := runAdversary(t, "failed-then-calls", filesOf(a, b, c),
		append(activated(3, "first", "second", "third"), "ACTIVATION_TEST_CALLS=", "ACTIVATION_TEST_SHOW_ERROR=1")...)
	diff(t, "problems", []string(nil), r.Problems)
	const want = `failed: activation: fd 4 ("second") as a listener: `
	if len(r.Lines) == 0 || !strings.HasPrefix(r.Lines[0], want) || strings.Contains(r.Lines[0], "first") {
		t.Errorf("lines: %q; want the error to start %q and name no other fd", r.Lines, want)
	}
}
