package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// timeout bounds every wait for a process, a line or a condition.
	timeout = 10 * time.Second
	// The load stops after maxRequests requests or loadTime, whichever
	// comes first, even if the test is not done with it.
	maxRequests = 5000
	loadTime    = 12 * time.Second
	workers     = 6
	// perServer: each server answers this many requests before the test
	// restarts it, so that requests are under way at every restart.
	perServer = 100
	restarts  = 3
)

// activatorBin is socket-activate, built by TestMain; buildErr says why not.
var (
	activatorBin string
	buildErr     error
)

// The test binary doubles as the server: with HTTP_EXAMPLE_TEST_CHILD=1 it
// prints its pid, for the test's cleanup, and runs main.
func TestMain(m *testing.M) {
	if os.Getenv("HTTP_EXAMPLE_TEST_CHILD") == "1" {
		fmt.Fprintf(os.Stderr, "child: pid %d\n", os.Getpid())
		main()
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "http-example-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "http example: %v\n", err)
		os.Exit(1)
	}
	activatorBin = filepath.Join(dir, "socket-activate")
	buildErr = build(activatorBin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds socket-activate as bin.
func build(bin string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build socket-activate: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/go-activation/activation/cmd/socket-activate")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w\n%s", cmd.Args, err, out)
	}
	return nil
}

// Under socket-activate --restart, SIGHUP stops the server with SIGTERM and
// starts a new one on the same listening socket. Clients that connect in
// between wait in the socket's backlog; the ones the old server accepted
// must get their answer from it.
func TestRestartsUnderLoadLoseNoRequest(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p := startActivator(t, "--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web",
		"-E", "HTTP_EXAMPLE_TEST_CHILD=1",
		// Quiets a test binary built with -cover, which warns at exit
		// without it.
		"-E", "GOCOVERDIR="+t.TempDir(),
		os.Args[0])
	addr := p.out.wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
	p.out.wait(t, servingLine, 1)

	l := startLoad(t, "http://"+addr+"/")
	// Socket-activate starts a server once the one before has exited, so
	// the answers counted after a server's start line are, but for the
	// odd one still being recorded, its own.
	for r := 1; r <= restarts+1; r++ {
		since := l.answeredCount()
		l.waitFor(t, fmt.Sprintf("%d requests answered by server %d", perServer, r), func() bool {
			return l.answered >= since+perServer
		})
		if r <= restarts {
			p.signal(t, syscall.SIGHUP)
			p.out.wait(t, servingLine, r+1)
		}
	}
	l.halt()

	t.Logf("%d requests, %d failed, %d restarts", l.requests, l.failed, restarts)
	if l.failed > 0 {
		t.Errorf("%d of %d requests failed; the first ones:\n%s", l.failed, l.requests, strings.Join(l.failures, "\n"))
	}

	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("socket-activate exited with status %d after SIGTERM, want the server's 0", code)
	}
	// The whole story, in order: each server starts, serves, and stops
	// without a word.
	serving := `serving on ` + addr + ` (socket-activated, fd 3 named "web")`
	want := []string{
		`socket-activate: listening on ` + addr + ` (fd 3, name "web")`,
		`socket-activate: running ` + os.Args[0],
		`child: pid PID`,
		serving,
	}
	for r := 1; r <= restarts; r++ {
		want = append(want,
			`socket-activate: SIGHUP: stopping the program with SIGTERM to restart it`,
			`socket-activate: restarting (restart `+strconv.Itoa(r)+`): `+os.Args[0],
			`child: pid PID`,
			serving)
	}
	if got := p.out.lines(`pid \d+`, "pid PID"); !equal(got, want) {
		t.Errorf("socket-activate's output (-want +got):\n%s", diff(want, got))
	}
}

// servingLine is what the example logs once it serves.
const servingLine = `^serving on \S+ \(socket-activated, fd 3 named "web"\)$`

// childLine is what the test binary prints as a server.
const childLine = `^child: pid (\d+)$`

// wantBody is the example's answer on the socket socket-activate passes.
const wantBody = "Hello from go-activation: socket-activated, fd 3 named \"web\"\n"

// load sends requests from a few workers until halted, or until
// maxRequests or loadTime.
type load struct {
	mu       sync.Mutex
	requests int // started
	answered int
	failed   int
	failures []string // the first few
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when every worker returned
}

// startLoad starts the workers; the test's cleanup halts them.
func startLoad(t *testing.T, url string) *load {
	client := &http.Client{
		// A connection per request: each one is accepted by a server
		// or waits in the listen backlog while none runs.
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   timeout,
	}
	l := &load{stop: make(chan struct{}), done: make(chan struct{})}
	end := time.Now().Add(loadTime)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.next(end) {
				l.record(get(client, url))
			}
		}()
	}
	go func() {
		wg.Wait()
		close(l.done)
	}()
	t.Cleanup(l.halt)
	return l
}

// get requests url and checks the answer.
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != wantBody {
		return fmt.Errorf("GET %s: %s %q, want %s %q", url, resp.Status, body, "200 OK", wantBody)
	}
	return nil
}

// next reports whether a worker may send another request and counts it.
func (l *load) next(end time.Time) bool {
	select {
	case <-l.stop:
		return false
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.requests >= maxRequests || time.Now().After(end) {
		return false
	}
	l.requests++
	return true
}

// record counts an answer or a failure.
func (l *load) record(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if len(l.failures) < 5 {
			l.failures = append(l.failures, err.Error())
		}
		return
	}
	l.answered++
}

func (l *load) answeredCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered
}

// halt stops the workers and waits for them.
func (l *load) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// waitFor waits until cond holds, checked with l locked.
func (l *load) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		stopped := false
		select {
		case <-l.done:
			stopped = true
		default:
		}
		l.mu.Lock()
		ok, n := cond(), l.requests
		l.mu.Unlock()
		switch {
		case ok:
			return
		case stopped:
			t.Fatalf("the load stopped after %d requests, before %s", n, what)
		case time.Now().After(deadline):
			t.Fatalf("no %s within %v", what, timeout)
		}
		<-tick.C
	}
}

// activator is a socket-activate process run by the test.
type activator struct {
	cmd  *exec.Cmd
	out  *output       // its standard output and error, and the servers'
	done chan struct{} // closed once it exited and was reaped
}

// startActivator runs socket-activate with args. The test's cleanup stops
// it with SIGTERM, or SIGKILL for it and the server it runs.
func startActivator(t *testing.T, args ...string) *activator {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(activatorBin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	p := &activator{cmd: cmd, out: newOutput(r), done: make(chan struct{})}
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
		// Socket-activate stops each server before it starts the next, so
		// only the last one can be left behind, if socket-activate died.
		if m := p.out.matchingSubmatches(childLine); len(m) > 0 {
			if pid, err := strconv.Atoi(m[len(m)-1][1]); err == nil {
				killServer(pid)
			}
		}
		if err := p.out.waitEOF(); err != nil {
			t.Errorf("socket-activate's output: %v", err)
		}
		r.Close()
		if t.Failed() {
			t.Logf("socket-activate's output:\n%s", p.out.text())
		}
	})
	return p
}

// killServer kills the process group of pid, which a server leads, if pid
// is still a server: a pid that exited may be in use again.
func killServer(pid int) {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return
	}
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 == os.Args[0] {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func (p *activator) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// exitCode waits for socket-activate to exit and returns its status.
func (p *activator) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("socket-activate still running %v after SIGTERM", timeout)
		return -1
	}
}

// output collects the lines a process writes.
type output struct {
	mu   sync.Mutex
	all  []string
	more chan struct{} // closed when a line arrives or at the end
	eof  bool
}

func newOutput(r io.Reader) *output {
	o := &output{more: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.mu.Lock()
			o.all = append(o.all, sc.Text())
			close(o.more)
			o.more = make(chan struct{})
			o.mu.Unlock()
		}
		o.mu.Lock()
		o.eof = true
		close(o.more)
		o.mu.Unlock()
	}()
	return o
}

func (o *output) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.all, "\n")
}

// matchingSubmatches returns the submatches of every line so far that
// matches re.
func (o *output) matchingSubmatches(re string) [][]string {
	rx := regexp.MustCompile(re)
	o.mu.Lock()
	defer o.mu.Unlock()
	var found [][]string
	for _, s := range o.all {
		if m := rx.FindStringSubmatch(s); m != nil {
			found = append(found, m)
		}
	}
	return found
}

// lines returns every line so far, with each match of re replaced by repl.
func (o *output) lines(re, repl string) []string {
	rx := regexp.MustCompile(re)
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := make([]string, len(o.all))
	for i, s := range o.all {
		lines[i] = rx.ReplaceAllString(s, repl)
	}
	return lines
}

// wait waits until n lines match re and returns their submatches.
func (o *output) wait(t *testing.T, re string, n int) [][]string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		more, eof := o.more, o.eof
		o.mu.Unlock()
		if found := o.matchingSubmatches(re); len(found) >= n {
			return found[:n]
		}
		if eof {
			t.Fatalf("output ended with fewer than %d lines matching %q:\n%s", n, re, o.text())
		}
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("no %d lines matching %q within %v:\n%s", n, re, timeout, o.text())
		}
	}
}

// waitEOF waits, for a bounded time, for the end of the output.
func (o *output) waitEOF() error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		more, eof := o.more, o.eof
		o.mu.Unlock()
		if eof {
			return nil
		}
		select {
		case <-more:
		case <-deadline.C:
			return errors.New("output still open")
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diff shows want and got line by line: "-" for a wanted line that is
// not there, "+" for a line that is there instead.
func diff(want, got []string) string {
	var b strings.Builder
	for i := 0; i < len(want) || i < len(got); i++ {
		switch {
		case i < len(want) && i < len(got) && want[i] == got[i]:
			fmt.Fprintf(&b, " %s\n", want[i])
		default:
			if i < len(want) {
				fmt.Fprintf(&b, "-%s\n", want[i])
			}
			if i < len(got) {
				fmt.Fprintf(&b, "+%s\n", got[i])
			}
		}
	}
	return b.String()
}
