//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

// timeout bounds every wait in these tests.
const timeout = 15 * time.Second

// waitEOF waits for the end of the output l.
func waitEOF(t *testing.T, l *restarttest.Lines) {
	t.Helper()
	if err := l.WaitEOF(); err != nil {
		t.Fatal(err)
	}
}

// proc is a socket-activate process run by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *restarttest.Lines
	done           chan struct{} // closed when it exited
}

// startProc runs socket-activate with args, with SA_COPY and SA_SECRET
// added to its environment, in a process group of its own.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startCommand(t, exe, []string{runMainEnv + "=1"}, nil, args...)
}

// startCommand runs path with args and this process's environment plus
// env, SA_COPY and SA_SECRET, with files as fds 3, 4, … (a nil entry
// leaves its fd closed), in a process group of its own, which the cleanup
// kills if the process leaves it behind.
func startCommand(t *testing.T, path string, env []string, files []*os.File, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	// As when run through PATH: the messages of getopt_long start with it.
	cmd.Args[0] = filepath.Base(path)
	cmd.Env = append(append(os.Environ(), env...), "SA_COPY=copied", "SA_SECRET=1", noRaceSleep)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.ExtraFiles = files
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: restarttest.NewLines(outR, timeout), stderr: restarttest.NewLines(errR, timeout), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(timeout):
				cmd.Process.Kill()
				<-p.done
			}
		}
		// Programs the activator left behind, in its group, which no
		// other process can have taken while the group has members.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		outR.Close()
		errR.Close()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(path), p.stderr.Text())
		}
	})
	return p
}

// exitCode waits for the process to exit and returns its status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return endLike(p.cmd.ProcessState).status()
	case <-time.After(timeout):
		t.Fatalf("socket-activate still running after %v; stderr:\n%s", timeout, p.stderr.Text())
		return -1
	}
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// addrs waits for n "listening on" lines and returns the addresses.
func (p *proc) addrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for _, m := range p.stderr.Wait(t, `^socket-activate: listening on (\S+) \(`, n) {
		addrs = append(addrs, m[1])
	}
	return addrs
}

// noRaceSleep spares the processes of these tests the second that the race
// detector waits at exit.
const noRaceSleep = "GORACE=atexit_sleep_ms=0"

// helperArgs returns the arguments that run helper name.
func helperArgs(t *testing.T, name string) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-E", helperEnv + "=" + name, "-E", noRaceSleep, exe}
}

// request sends a line over network to addr and returns the answer.
func request(network, addr string) (string, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// shortTempDir returns a directory with a path short enough for unix
// sockets everywhere (t.TempDir can exceed the 104 bytes of the BSDs).
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "sa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// baseEnv is what every report helper finds besides LISTEN_FDS and
// LISTEN_FDNAMES: the -E variables and TERM, PATH, USER, HOME.
func baseEnv(extra ...string) []string {
	env := append([]string{"SA_COPY=copied", helperEnv + "=report", noRaceSleep}, extra...)
	for _, k := range []string{"TERM", "PATH", "USER", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// diff prints want and got when they differ.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, _ := json.MarshalIndent(want, "", "  ")
	g, _ := json.MarshalIndent(got, "", "  ")
	return fmt.Sprintf("-want:\n%s\n+got:\n%s", w, g)
}

func TestProgramGetsSockets(t *testing.T) {
	dir := shortTempDir(t)
	abstract := fmt.Sprintf("@socket-activate-test-%d", os.Getpid())
	type dial struct {
		network string
		addr    func(printed []string) string
	}
	printed := func(i int) func([]string) string { return func(a []string) string { return a[i] } }
	type passCase struct {
		name    string
		args    []string
		sockets int
		dials   []dial
		now     bool
		fds     func(printed []string) []string
		names   string
	}
	tests := []passCase{{
		name:    "one TCP socket on an ephemeral IPv4 port is fd 3 with its --fdname",
		args:    []string{"-l", "127.0.0.1:0", "--fdname=web"},
		sockets: 1,
		dials:   []dial{{"tcp", printed(0)}},
		fds:     func(a []string) []string { return []string{"stream " + a[0]} },
		names:   "web",
	}, {
		name:    "an IPv6 loopback socket is named unknown without --fdname",
		args:    []string{"-l", "[::1]:0"},
		sockets: 1,
		dials:   []dial{{"tcp", printed(0)}},
		fds:     func(a []string) []string { return []string{"stream " + a[0]} },
		names:   "unknown",
	}, {
		name:    "a bare port listens on IPv6 and IPv4 at once",
		args:    []string{"--listen=0"},
		sockets: 1,
		dials: []dial{
			{"tcp", func(a []string) string { return strings.Replace(a[0], "[::]", "127.0.0.1", 1) }},
			{"tcp", func(a []string) string { return strings.Replace(a[0], "[::]", "[::1]", 1) }},
		},
		fds:   func(a []string) []string { return []string{"stream " + a[0]} },
		names: "unknown",
	}, {
		name:    "a unix socket path is passed",
		args:    []string{"-l", filepath.Join(dir, "s1")},
		sockets: 1,
		dials:   []dial{{"unix", printed(0)}},
		fds:     func(a []string) []string { return []string{"stream " + a[0]} },
		names:   "unknown",
	}, {
		name:    "a seqpacket unix socket is passed",
		args:    []string{"--seqpacket", "-l", filepath.Join(dir, "s2")},
		sockets: 1,
		dials:   []dial{{"unixpacket", printed(0)}},
		fds:     func(a []string) []string { return []string{"seqpacket " + a[0]} },
		names:   "unknown",
	}, {
		name:    "a UDP socket with --datagram waits for the first datagram",
		args:    []string{"-d", "-l", "127.0.0.1:0"},
		sockets: 1,
		dials:   []dial{{"udp", printed(0)}},
		fds:     func(a []string) []string { return []string{"dgram " + a[0]} },
		names:   "unknown",
	}, {
		name:    "three sockets are fds 3, 4, 5 in the order of -l, with one name for all",
		args:    []string{"-l", "127.0.0.1:0", "-l", "[::1]:0", "-l", filepath.Join(dir, "s3"), "--fdname", "x"},
		sockets: 3,
		dials:   []dial{{"tcp", printed(0)}, {"unix", printed(2)}, {"tcp", printed(1)}},
		fds: func(a []string) []string {
			return []string{"stream " + a[0], "stream " + a[1], "stream " + a[2]}
		},
		names: "x:x:x",
	}, {
		name:    "a stale unix socket file from an earlier run is replaced",
		args:    []string{"-l", staleSocket(t, filepath.Join(dir, "stale"))},
		sockets: 1,
		dials:   []dial{{"unix", printed(0)}},
		fds:     func(a []string) []string { return []string{"stream " + a[0]} },
		names:   "unknown",
	}, {
		name:    "--now starts the program before any connection",
		args:    []string{"--now", "-l", "127.0.0.1:0"},
		sockets: 1,
		now:     true,
		dials:   []dial{{"tcp", printed(0)}},
		fds:     func(a []string) []string { return []string{"stream " + a[0]} },
		names:   "unknown",
	}}
	if runtime.GOOS == "linux" {
		tests = append(tests, passCase{
			name:    "an abstract socket is passed on Linux",
			args:    []string{"-l", abstract},
			sockets: 1,
			dials:   []dial{{"unix", printed(0)}},
			fds:     func(a []string) []string { return []string{"stream " + a[0]} },
			names:   "unknown",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append(tt.args, "-E", "SA_COPY"), helperArgs(t, "report")...)
			p := startProc(t, args...)
			addrs := p.addrs(t, tt.sockets)
			var got report
			readReport := func() {
				line := p.stdout.Wait(t, `^\{.*`, 1)[0][0]
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("report %q: %v", line, err)
				}
			}
			if tt.now {
				readReport()
			}
			for _, d := range tt.dials {
				addr := d.addr(addrs)
				answer, err := request(d.network, addr)
				if err != nil {
					t.Fatalf("request to %s %s: %v", d.network, addr, err)
				}
				if !regexp.MustCompile(`^pid \d+ fd \d\n$`).MatchString(answer) {
					t.Errorf("request to %s %s: answer %q, want \"pid PID fd FD\\n\"", d.network, addr, answer)
				}
			}
			if !tt.now {
				readReport()
			}
			want := report{
				Env:     sorted(baseEnv(fmt.Sprintf("LISTEN_FDS=%d", tt.sockets), "LISTEN_FDNAMES="+tt.names)),
				FDs:     tt.fds(addrs),
				Pending: !tt.now,
			}
			if d := diff(want, got); d != "" {
				t.Errorf("program's report:\n%s", d)
			}
			p.signal(t, syscall.SIGTERM)
			if code := p.exitCode(t); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			for _, a := range addrs {
				if _, err := os.Lstat(a); strings.HasPrefix(a, "/") && !os.IsNotExist(err) {
					t.Errorf("socket file %s left behind at exit (Lstat: %v)", a, err)
				}
			}
		})
	}
}

func TestAcceptRunsOneProgramPerConnection(t *testing.T) {
	dir := shortTempDir(t)
	p := startProc(t, append([]string{"-a", "-l", "127.0.0.1:0", "-l", filepath.Join(dir, "s"), "-l", "[::1]:0", "--fdname=web:local:v6"}, helperArgs(t, "conn")...)...)
	addrs := p.addrs(t, 3)
	fdsBefore := openFDs(t, p.cmd.Process.Pid)
	answerRE := regexp.MustCompile(`^pid=(\d+) (.*)\n$`)
	pids := map[string]bool{}
	for i, tc := range []struct {
		network, addr string
	}{{"tcp", addrs[0]}, {"tcp", addrs[0]}, {"unix", addrs[1]}, {"tcp", addrs[2]}} {
		c, err := net.DialTimeout(tc.network, tc.addr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(timeout))
		io.WriteString(c, "hello\n")
		answer, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		m := answerRE.FindStringSubmatch(answer)
		if m == nil {
			t.Fatalf("connection %d: answer %q", i, answer)
		}
		pids[m[1]] = true
		want := "fds=1 names=local remote=: fd3=stream inherited=[3]"
		if tc.network == "tcp" {
			host, port, _ := net.SplitHostPort(c.LocalAddr().String())
			name := map[string]string{"127.0.0.1": "web", "::1": "v6"}[host]
			want = "fds=1 names=" + name + " remote=" + host + ":" + port + " fd3=stream inherited=[3]"
		}
		if m[2] != want {
			t.Errorf("connection %d over %s: program got\n%s\nwant\n%s", i, tc.network, m[2], want)
		}
	}
	if len(pids) != 4 {
		t.Errorf("4 connections ran %d distinct programs, want 4", len(pids))
	}
	if fdsBefore != nil {
		// The programs exit on their own; wait until their connections
		// and process handles are closed in the activator.
		var now []string
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if now = openFDs(t, p.cmd.Process.Pid); reflect.DeepEqual(now, fdsBefore) {
				break
			}
		}
		if d := diff(fdsBefore, now); d != "" {
			t.Errorf("the activator's open fds after 4 connections:\n%s", d)
		}
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want 143", code)
	}
}

// staleSocket leaves a unix socket file at path that nobody listens on,
// as a killed server would, and returns path.
func staleSocket(t *testing.T, path string) string {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	return path
}

// openFDs lists the open fds of process pid and what they are, where
// /proc tells (Linux); elsewhere it returns nil.
func openFDs(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if runtime.GOOS != "linux" {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		fds = append(fds, e.Name()+" "+target)
	}
	return fds
}

func TestInetdPassesTheConnectionOnStdinAndStdout(t *testing.T) {
	p := startProc(t, append([]string{"--inetd", "-a", "-l", "127.0.0.1:0"}, helperArgs(t, "inetd")...)...)
	addr := p.addrs(t, 1)[0]
	got, err := request("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	want := "inetd got \"hello\\n\", LISTEN_FDS set: false, REMOTE_ADDR=127.0.0.1\n"
	if got != want {
		t.Errorf("answer\n%q\nwant\n%q", got, want)
	}
	p.signal(t, syscall.SIGINT)
	if code := p.exitCode(t); code != 128+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want 130", code)
	}
}

func TestSetupErrorsExitWithStatus1(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyUnix, err := net.Listen("unix", filepath.Join(shortTempDir(t), "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer busyUnix.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type setupCase struct {
		name   string
		args   []string
		stderr string
	}
	tests := []setupCase{{
		name:   "a port in use",
		args:   []string{"-l", busy.Addr().String(), exe},
		stderr: fmt.Sprintf("cannot listen on %q: bind: address already in use", busy.Addr()),
	}, {
		name:   "a unix socket path another server listens on",
		args:   []string{"-l", busyUnix.Addr().String(), exe},
		stderr: fmt.Sprintf("cannot listen on %q: bind: address already in use", busyUnix.Addr()),
	}, {
		name:   "a program not in PATH",
		args:   []string{"-l", "127.0.0.1:0", "socket-activate-test-no-such-program"},
		stderr: `program not found: "socket-activate-test-no-such-program" is not in PATH or not executable`,
	}, {
		name:   "an address without a port",
		args:   []string{"-l", "1.2.3:4", exe},
		stderr: `bad address "1.2.3:4": not PORT, IP:PORT, [IPv6]:PORT, /path or @name`,
	}, {
		name:   "a port out of range",
		args:   []string{"-l", "65536", exe},
		stderr: `bad address "65536": port out of range 0-65535`,
	}, {
		name:   "no -l",
		args:   []string{exe},
		stderr: "no socket to listen on: give at least one -l ADDR, pass sockets in LISTEN_FDS, or give --notify --now for a program that keeps its own sockets in the fd store (see --help)",
	}, {
		name:   "no -l with --notify but without --now",
		args:   []string{"--notify", "--restart", exe},
		stderr: "--notify without sockets needs --now: there is no socket to wait on for a first connection (see --help)",
	}, {
		name:   "no program",
		args:   []string{"-l", "0"},
		stderr: "no program to run given (see --help)",
	}, {
		name:   "--datagram with --accept",
		args:   []string{"-d", "-a", "-l", "0", exe},
		stderr: "datagram sockets do not accept connections: --datagram and --accept cannot be combined (see --help)",
	}, {
		name:   "an unknown option",
		args:   []string{"--bogus", "-l", "0", exe},
		stderr: "unrecognized option '--bogus'",
	}}
	if runtime.GOOS != "linux" {
		tests = append(tests, setupCase{
			name:   "an abstract socket outside Linux",
			args:   []string{"-l", "@x", exe},
			stderr: `bad address "@x": abstract unix sockets exist only on Linux`,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProc(t, tt.args...)
			if code := p.exitCode(t); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			waitEOF(t, p.stderr)
			if got, want := p.stderr.Text(), "socket-activate: "+tt.stderr; got != want {
				t.Errorf("stderr\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestForwardsSignals(t *testing.T) {
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"SIGINT reaches the program", syscall.SIGINT, nil},
		{"SIGTERM reaches the program", syscall.SIGTERM, nil},
		{"SIGTERM reaches the program and ends --restart", syscall.SIGTERM, []string{"--restart"}},
		{"SIGHUP reaches the program without --restart", syscall.SIGHUP, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"--now", "-l", "127.0.0.1:0"}, tt.args...), helperArgs(t, "signal")...)
			p := startProc(t, args...)
			p.stdout.Wait(t, "^waiting$", 1)
			p.signal(t, tt.sig)
			p.stdout.Wait(t, "^got "+regexp.QuoteMeta(tt.sig.String())+"$", 1)
			if code := p.exitCode(t); code != 42 {
				t.Errorf("exit status %d, want the program's 42", code)
			}
		})
	}
}

func TestRestartNeverRefusesAConnection(t *testing.T) {
	const (
		restarts    = 5
		maxRequests = 500
		exitAfter   = 5 // requests; odd-numbered runs end this way
		hupAfter    = 2 // requests; even-numbered runs are stopped by SIGHUP
	)
	p := startProc(t, append([]string{"--restart", "-l", "127.0.0.1:0", "-E", fmt.Sprintf("%s=%d", exitEnv, exitAfter)}, helperArgs(t, "report")...)...)
	addr := p.addrs(t, 1)[0]
	pidRE := regexp.MustCompile(`^pid (\d+) fd 3\n$`)
	var pids []string
	served := map[string]int{}
	requests, failures := 0, 0
	deadline := time.Now().Add(timeout)
	for len(pids) < restarts+1 && requests < maxRequests && time.Now().Before(deadline) {
		requests++
		answer, err := request("tcp", addr)
		m := pidRE.FindStringSubmatch(answer)
		if err != nil || m == nil {
			failures++
			t.Errorf("request %d: answer %q, error %v", requests, answer, err)
			continue
		}
		pid := m[1]
		if served[pid] == 0 {
			pids = append(pids, pid)
		}
		served[pid]++
		if (len(pids)-1)%2 == 0 && served[pid] == hupAfter {
			p.signal(t, syscall.SIGHUP)
		}
	}
	t.Logf("%d requests, %d failed, %d programs (%d restarts)", requests, failures, len(pids), len(pids)-1)
	if len(pids) != restarts+1 {
		t.Fatalf("%d programs answered, want %d", len(pids), restarts+1)
	}
	p.stderr.Wait(t, `^socket-activate: SIGHUP: stopping the program with SIGTERM to restart it$`, 1)
	p.stderr.Wait(t, `^socket-activate: program exited with status 0; restarting it at the next connection$`, 1)
	p.stderr.Wait(t, `^socket-activate: restarting \(restart 5\): `, 1)
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestRestartDelaysAProgramThatFailsAtOnce(t *testing.T) {
	start := time.Now()
	p := startProc(t, append([]string{"--restart", "--now", "-l", "127.0.0.1:0"}, helperArgs(t, "fail")...)...)
	p.stderr.Wait(t, `^socket-activate: restarting \(restart 2\): `, 1)
	if elapsed := time.Since(start); elapsed < 2*restartDelay {
		t.Errorf("2 restarts after %v, want at least %v", elapsed, 2*restartDelay)
	}
	p.stderr.Wait(t, `^socket-activate: program exited with status 3 within 1s; restarting it in 1s$`, 3)
	p.signal(t, syscall.SIGTERM)
	// SIGTERM during the delay, with no program running, ends
	// socket-activate as it ends systemd-socket-activate: it dies of it.
	// If the delay ran out first, the program just started gets it, and
	// socket-activate ends as that program does: 3, or of SIGTERM.
	code := p.exitCode(t)
	waitEOF(t, p.stderr)
	if strings.Contains(p.stderr.Text(), "socket-activate: terminated while waiting to restart the program; exiting") {
		if ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("socket-activate ended with %v, want to die of SIGTERM", p.cmd.ProcessState)
		}
	} else if code != 3 && code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want the program's 3 or 143", code)
	}
}

func TestNotifyKeepsStoredFDsAcrossRestarts(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	p := startProc(t, append([]string{"--notify", "--restart", "--now", "-l", "127.0.0.1:0", "--fdname=web", "-E", stateEnv + "=" + state}, helperArgs(t, "store")...)...)
	p.stdout.Wait(t, "^run 4: ", 1)
	want := []string{
		"run 1: LISTEN_FDS=1 LISTEN_FDNAMES=web",
		"fd sent without FDSTORE=1 closed",
		"run 2: LISTEN_FDS=2 LISTEN_FDNAMES=web:kept",
		`fd 4 holds "kept data"`,
		"run 3: LISTEN_FDS=3 LISTEN_FDNAMES=web:kept:stored",
		`fd 5 holds "more data"`,
		"run 4: LISTEN_FDS=2 LISTEN_FDNAMES=web:stored",
	}
	if got := strings.Split(p.stdout.Text(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("program's runs:\n%s", diff(want, got))
	}
	p.stderr.Wait(t, `^socket-activate: Active: active \(running\)$`, 1)
	p.stderr.Wait(t, `^socket-activate: warning: 1 fds sent without FDSTORE=1 closed$`, 1)
	p.stderr.Wait(t, `^socket-activate: fd store: closed the fd named "gone": it reported POLLHUP$`, 1)
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestNotifyDropsStoredConnectionsWhosePeerIsGone(t *testing.T) {
	dir := shortTempDir(t)
	dropped := `^socket-activate: fd store: closed the fd named "conn": it reported POLL(HUP|ERR)$`
	tests := []struct {
		name    string
		listen  string
		network string
		fdpoll  string
		run2    []string // what the second run says
		keeps   int      // stored fds the activator holds during run 2
	}{{
		name:    "a unix connection whose peer closed is not passed to the next start",
		listen:  filepath.Join(dir, "drop"),
		network: "unix",
		run2:    []string{"run 2: LISTEN_FDS=1 LISTEN_FDNAMES=web"},
	}, {
		name:    "a TCP connection whose peer reset it is not passed to the next start",
		listen:  "127.0.0.1:0",
		network: "tcp",
		run2:    []string{"run 2: LISTEN_FDS=1 LISTEN_FDNAMES=web"},
	}, {
		name:    "a unix connection stored with FDPOLL=0 is passed although its peer closed",
		listen:  filepath.Join(dir, "keep"),
		network: "unix",
		fdpoll:  "FDPOLL=0",
		run2:    []string{"run 2: LISTEN_FDS=2 LISTEN_FDNAMES=web:conn", "fd 4 hung up: true"},
		keeps:   1,
	}, {
		name:    "a TCP connection stored with FDPOLL=0 is passed although its peer reset it",
		listen:  "127.0.0.1:0",
		network: "tcp",
		fdpoll:  "FDPOLL=0",
		run2:    []string{"run 2: LISTEN_FDS=2 LISTEN_FDNAMES=web:conn", "fd 4 hung up: true"},
		keeps:   1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			p := startProc(t, append([]string{"--notify", "--restart", "--now", "-l", tt.listen, "--fdname=web",
				"-E", stateEnv + "=" + state, "-E", fdpollEnv + "=" + tt.fdpoll}, helperArgs(t, "store-conn")...)...)
			addr := p.addrs(t, 1)[0]
			p.stdout.Wait(t, "^run 1: ", 1)
			fdsBefore := ownFDs(openFDs(t, p.cmd.Process.Pid))
			c, err := net.DialTimeout(tt.network, addr, timeout)
			if err != nil {
				t.Fatal(err)
			}
			p.stdout.Wait(t, "^stored conn$", 1)
			if tc, ok := c.(*net.TCPConn); ok {
				// A TCP connection reports POLLHUP once reset, not after a
				// mere FIN.
				tc.SetLinger(0)
			}
			c.Close()
			if tt.fdpoll == "" {
				p.stderr.Wait(t, dropped, 1)
			}
			p.signal(t, syscall.SIGHUP)
			p.stdout.Wait(t, "^"+regexp.QuoteMeta(tt.run2[len(tt.run2)-1])+"$", 1)
			want := append([]string{"run 1: LISTEN_FDS=1 LISTEN_FDNAMES=web", "stored conn"}, tt.run2...)
			if got := strings.Split(p.stdout.Text(), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("program's runs:\n%s", diff(want, got))
			}
			if fdsBefore != nil {
				if now := ownFDs(openFDs(t, p.cmd.Process.Pid)); len(now) != len(fdsBefore)+tt.keeps {
					t.Errorf("the activator has %d open fds during run 2, want %d (%d before the store, plus %d stored):\nbefore: %q\nnow: %q",
						len(now), len(fdsBefore)+tt.keeps, len(fdsBefore), tt.keeps, fdsBefore, now)
				}
			}
			p.signal(t, syscall.SIGTERM)
			if code := p.exitCode(t); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			waitEOF(t, p.stderr)
			if got := len(regexp.MustCompile(`(?m)`+dropped).FindAllString(p.stderr.Text(), -1)); got != 1-tt.keeps {
				t.Errorf("stderr says %d times that the stored connection was closed, want %d", got, 1-tt.keeps)
			}
		})
	}
}

func TestNotifyWithoutSocketsPassesOnlyWhatTheProgramStored(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	helper := helperArgs(t, "own-listener")
	prog := helper[len(helper)-1]
	p := startProc(t, append([]string{"--notify", "--now", "--restart", "-E", stateEnv + "=" + state}, helper...)...)
	addr := p.stdout.Wait(t, `^stored (\S+)$`, 1)[0][1]
	// Run 1 never accepts: the connection waits in the backlog of the
	// stored socket, which outlives run 1's own copy.
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	p.signal(t, syscall.SIGHUP)
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("connection made during run 1: %v", err)
	}
	last := p.stdout.Wait(t, "^answered a connection on fd 3$", 1)
	if !regexp.MustCompile(`^pid \d+\n$`).MatchString(answer) {
		t.Errorf("connection made during run 1: answer %q, want \"pid PID\\n\"", answer)
	}
	want := []string{
		"run 1: LISTEN_FDS=unset LISTEN_FDNAMES=unset LISTEN_PID=unset",
		"stored " + addr,
		"run 2: LISTEN_FDS=1 LISTEN_FDNAMES=web LISTEN_PID=self",
		"fd 3 is stream " + addr,
		last[0][0],
	}
	if got := strings.Split(p.stdout.Text(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("program's runs:\n%s", diff(want, got))
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	waitEOF(t, p.stderr)
	execing := "Execing " + prog + " (" + prog + ")"
	wantErr := []string{
		"socket-activate: Active: activating (start)",
		execing,
		"socket-activate: SIGHUP: stopping the program with SIGTERM to restart it",
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Active: inactive (dead)",
		"socket-activate: Active: activating (start)",
		"socket-activate: restarting (restart 1): " + prog,
		execing,
		"socket-activate: Active: deactivating (stop-sigterm)",
		"socket-activate: Active: inactive (dead)",
	}
	if got := strings.Split(p.stderr.Text(), "\n"); !reflect.DeepEqual(got, wantErr) {
		t.Errorf("socket-activate's output, with no socket of its own:\n%s", diff(wantErr, got))
	}
}

// ownFDs leaves out of an openFDs list the Go runtime's netpoller, which
// it opens at its first use.
func ownFDs(fds []string) []string {
	var own []string
	for _, fd := range fds {
		if !strings.HasSuffix(fd, " anon_inode:[eventpoll]") && !strings.HasSuffix(fd, " anon_inode:[eventfd]") {
			own = append(own, fd)
		}
	}
	return own
}

func TestInetdWithoutAcceptPassesTheListeningSocket(t *testing.T) {
	p := startProc(t, append([]string{"--inetd", "-l", "127.0.0.1:0"}, helperArgs(t, "inetd-listen")...)...)
	addr := p.addrs(t, 1)[0]
	got, err := request("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if want := "stdin is stream " + addr + ", LISTEN_FDS set: false\n"; got != want {
		t.Errorf("answer\n%q\nwant\n%q", got, want)
	}
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want the program's 0", code)
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		t.Run(arg+" prints the usage and exits 0", func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run([]string{arg}, &stdout, &stderr).status(); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			if stdout.String() != usage || stderr.String() != "" {
				t.Errorf("stdout %q, stderr %q; want the usage and nothing", stdout.String(), stderr.String())
			}
		})
	}
	for _, flag := range []string{"PORT", "IP:PORT", "[IPv6]:PORT", "/path/to/socket", "@name"} {
		if !strings.Contains(usage, flag) {
			t.Errorf("usage does not mention %q", flag)
		}
	}
}

func TestHelpDocAndReadmeAgree(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The README's section on socket-activate: its flag table.
	section, _, _ := strings.Cut(string(readme)[strings.Index(string(readme), "## socket-activate"):], "\n## ")
	var block strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(optionHelp(optionTable), "\n"), "\n") {
		block.WriteString("//\t" + strings.TrimPrefix(line, "  ") + "\n")
		if !strings.Contains(string(doc), "//\t"+strings.TrimPrefix(line, "  ")+"\n") {
			t.Errorf("doc.go lacks the line of --help\n%s", line)
		}
	}
	// The options appear in doc.go once, as one block, in --help's order.
	if n := strings.Count(string(doc), block.String()); n != 1 {
		t.Errorf("doc.go holds --help's list of options %d times, want once, whole", n)
	}
	if n := strings.Count(string(doc), "//\t-h, --help"); n != 1 {
		t.Errorf("doc.go lists -h, --help %d times", n)
	}
	for _, opt := range optionTable {
		if opt.alias != "" {
			continue
		}
		want := "`--" + opt.long
		if opt.short != 0 {
			want = "`-" + string(opt.short) + ", --" + opt.long
		}
		if !strings.Contains(section, "| "+want) {
			t.Errorf("README's table of socket-activate's flags has no row for %s", want+"`")
		}
	}
	for _, s := range []string{"Where socket-activate differs from systemd-socket-activate on purpose", "# Where it differs from systemd-socket-activate"} {
		if !strings.Contains(usage+string(doc), s) {
			t.Errorf("--help or doc.go lacks %q", s)
		}
	}
	if !strings.Contains(section, "differs from `systemd-socket-activate` on purpose") {
		t.Errorf("README's section on socket-activate does not say where it differs from systemd-socket-activate on purpose")
	}
}
