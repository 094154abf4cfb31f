//go:build unix

package activation_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/activationtest"
	"golang.org/x/sys/unix"
)

func init() {
	scenarios["emfile"] = withNetpoll(childEMFILE)
	scenarios["failed-then-calls"] = withNetpoll(childFailedThenCalls)
	scenarios["race-every-call"] = withNetpoll(childRaceEveryCall)
	scenarios["describe-around"] = withNetpoll(childDescribeAround)
}

// withNetpoll runs s once the runtime's poller has its fds.
func withNetpoll(s scenario) scenario {
	return func(r *report) {
		startNetpoll()
		s(r)
	}
}

func TestAConversionFailingMidwayLosesNothing(t *testing.T) {
	var files []*os.File
	for i := 0; i < 3; i++ {
		p, _ := tcpListener(t, "tcp4", "127.0.0.1:0")
		files = append(files, p.file)
	}
	r := run(t, childProc{scenario: "emfile", files: files, env: activated(3)})
	diff(t, "lines", []string{"Listeners again: 3 listeners"}, r.Lines)
	diff(t, "problems", []string(nil), r.Problems)
}

// failListenersMidway makes a Listeners call fail in the middle, on the
// second listener, by leaving no fd free for the duplicate the net
// package makes, and then frees the fds again. It reports whether the
// call failed as it should.
func failListenersMidway(r *report) bool {
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
func childEMFILE(r *report) {
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
// of the child and describes the fds.
func childFailedThenCalls(r *report) {
	if !failListenersMidway(r) {
		return
	}
	os.Setenv("ACTIVATION_TEST_DESCRIBE_FIRST", "no")
	childDescribeAround(r)
}

func TestEveryCallAtOnce(t *testing.T) {
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
		r := run(t, childProc{scenario: "race-every-call", files: files, env: env})
		var want []string
		for fd := 3; fd < 3+len(files); fd++ {
			want = append(want, fmt.Sprintf("fd %d", fd))
		}
		sort.Strings(want)
		diff(t, fmt.Sprintf("round %d: fds handed out", round), want, r.Lines)
		diff(t, fmt.Sprintf("round %d: problems", round), []string(nil), r.Problems)
	}
}

// childRaceEveryCall calls every function of the package from many
// goroutines at once and checks that each inherited fd is handed out
// exactly once and that the values hold one fd each.
func childRaceEveryCall(r *report) {
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
// the calls of the child, with what each returns.
func childDescribeAround(r *report) {
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
	for _, c := range decodeCalls(os.Getenv(callsEnv)) {
		h, err := makeCall(c)
		closers = append(closers, h.closers...)
		r.line("%s: %q, %v", c, h.items, err)
		for _, s := range h.serve {
			r.problem("%s", s)
		}
	}
	inherited("after")
	for _, c := range closers {
		c()
	}
}
