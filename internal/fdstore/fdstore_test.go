//go:build linux

package fdstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// timeout bounds every wait for a process, a line or a condition.
	timeout = 15 * time.Second
	// The load stops after maxRequests requests or loadTime, whichever
	// comes first, even if the test is not done with it.
	maxRequests = 4000
	loadTime    = 20 * time.Second
	workers     = 8
	// perServer: each server answers this many requests before the test
	// restarts it, so that requests are under way at every restart.
	perServer = 100
	// peerEvery: every peerEvery-th request of a worker goes to /peer.
	peerEvery = 4
	restarts  = 3
)

// The programs, built once by TestMain.
var (
	activatorBin, serverBin string
	buildErr                error
)

// tally sums what the runs of one test saw.
type tally struct {
	runs, requests, peerRequests, failed, restarts, pids, peerConns int
}

func (s tally) String() string {
	return fmt.Sprintf("%d runs: %d requests (%d to /peer), %d failed, %d restarts, %d pids, %d peer connections",
		s.runs, s.requests, s.peerRequests, s.failed, s.restarts, s.pids, s.peerConns)
}

// totals sums what the runs of each test saw, for the summary TestMain
// prints: with the activator's -l socket, and with the server's own
// stored listener.
var totals struct {
	sync.Mutex
	socketUnit, ownListener tally
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fdstore-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "fdstore: %v\n", err)
		os.Exit(1)
	}
	activatorBin = filepath.Join(dir, "socket-activate")
	serverBin = filepath.Join(dir, "server")
	buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	var summary []string
	if totals.socketUnit.runs > 0 {
		summary = append(summary, totals.socketUnit.String())
	}
	if totals.ownListener.runs > 0 {
		summary = append(summary, "own listener: "+totals.ownListener.String())
	}
	if len(summary) > 0 {
		fmt.Printf("fdstore: %s\n", strings.Join(summary, "; "))
	}
	os.Exit(code)
}

// build builds socket-activate and the test server into dir.
func build(dir string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the programs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", dir+string(filepath.Separator),
		"github.com/go-activation/activation/cmd/socket-activate",
		"github.com/go-activation/activation/internal/fdstore/testdata/server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w\n%s", cmd.Args, err, out)
	}
	return nil
}

func TestRestartsUnderLoadLoseNoRequestAndKeepTheStoredConnection(t *testing.T) {
	restartUnderLoad(t, false, &totals.socketUnit)
}

// The server opens its own listener and stores it, as a Type=notify service
// with FileDescriptorStoreMax= and no socket unit: the activator has no -l.
func TestRestartsOfAServerThatStoresItsOwnListenerLoseNoRequestAndKeepTheStoredConnection(t *testing.T) {
	restartUnderLoad(t, true, &totals.ownListener)
}

// restartUnderLoad runs the server under socket-activate, restarts it
// under load and checks that no request failed, that every server
// answered and that the peer saw one connection, open all along. With own,
// the server opens its listener and stores it, and socket-activate runs
// with --now and no -l; else socket-activate listens, and the first
// request starts the server. It adds what it saw to sum.
func restartUnderLoad(t *testing.T, own bool, sum *tally) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	peer := startPeer(t)
	var p *activator
	var addr string
	var story []string
	if own {
		p = startActivator(t, "--notify", "--now", "--restart", "-E", "PEER="+peer.addr(), "-E", "OWN_LISTENER=1", serverBin)
		addr = p.stderr.wait(t, serverLine, 1)[0][2]
	} else {
		p = startActivator(t, "--notify", "--restart", "-l", "127.0.0.1:0", "--fdname=web", "-E", "PEER="+peer.addr(), serverBin)
		addr = p.stderr.wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
		story = append(story, `socket-activate: listening on `+addr+` (fd 3, name "web")`)
	}
	base := "http://" + addr
	client := &http.Client{
		// A connection per request: each one waits in the listen backlog
		// while no server runs, and none is left idle in a server that stops.
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   timeout,
	}

	// Without --now the first request starts the server; with --now it
	// runs already.
	first, err := get(client, base+"/", "")
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	p.stderr.wait(t, readyLine, 1)
	if pids := p.serverPIDs(t, 1); first.PID != pids[0] {
		t.Fatalf("first request answered by pid %d, want the server's %d", first.PID, pids[0])
	}

	l := startLoad(t, client, base)
	l.own(first, nil, false)
	for r := 1; r <= restarts; r++ {
		pid := p.serverPIDs(t, r)[r-1]
		l.waitFor(t, fmt.Sprintf("%d requests answered by pid %d", perServer, pid), func() bool { return l.answered[pid] >= perServer })
		p.signal(t, syscall.SIGHUP)
		p.serverPIDs(t, r+1)
		p.stderr.wait(t, readyLine, r+1)
	}
	pids := p.serverPIDs(t, restarts+1)
	last := pids[restarts]
	l.waitFor(t, fmt.Sprintf("%d requests, one to /peer, answered by pid %d", perServer, last), func() bool {
		return l.answered[last] >= perServer && l.peerAnswered[last] > 0
	})
	l.halt()

	after, err := get(client, base+"/peer?msg=after-restarts", "after-restarts")
	l.own(after, err, true)
	if err != nil {
		t.Fatalf("/peer after the restarts: %v", err)
	}

	t.Logf("%d requests (%d to /peer), %d failed, %d restarts, pids %v answered %v, %d peer connections, %d lines echoed",
		l.requests, l.peerRequests, l.failed, restarts, pids, l.answered, peer.accepted(), peer.echoed())
	totals.Lock()
	sum.runs++
	sum.requests += l.requests
	sum.peerRequests += l.peerRequests
	sum.failed += l.failed
	sum.restarts += restarts
	sum.pids += len(l.answered)
	sum.peerConns += peer.accepted()
	totals.Unlock()

	if l.failed > 0 {
		t.Errorf("%d of %d requests failed; the first ones:\n%s", l.failed, l.requests, strings.Join(l.failures, "\n"))
	}
	if after.PID != last {
		t.Errorf("/peer after the restarts answered by pid %d, want the last server's %d", after.PID, last)
	}
	if got := sortedKeys(l.answered); !equal(got, sortedCopy(pids)) {
		t.Errorf("pids that answered: %v; want every server started: %v", got, pids)
	}
	if n := peer.accepted(); n != 1 {
		t.Errorf("the peer accepted %d connections, want 1", n)
	}
	if n, want := peer.echoed(), l.peerAnsweredTotal(); n != want {
		t.Errorf("the peer echoed %d lines for %d /peer requests answered", n, want)
	}
	select {
	case <-peer.closed:
		t.Errorf("the peer's connection ended during the restarts")
	default:
	}
	// The whole story, in order: the server stores the connection at
	// every start, and the activator keeps it once. With its own listener,
	// the first server inherits nothing, and the later ones the listener
	// and the connection it stored, in that order.
	firstInherited := "web"
	if own {
		firstInherited = "nothing"
	}
	story = append(story,
		`socket-activate: running `+serverBin,
		`server: pid PID serving on `+addr+`, inherited `+firstInherited,
		`socket-activate: ready`)
	for r := 1; r <= restarts; r++ {
		story = append(story,
			`socket-activate: SIGHUP: stopping the program with SIGTERM to restart it`,
			`socket-activate: restarting (restart `+strconv.Itoa(r)+`): `+serverBin,
			`server: pid PID serving on `+addr+`, inherited web:conn`,
			`socket-activate: ready`)
	}
	if got := p.stderr.lines(`pid \d+`, "pid PID"); !equal(got, story) {
		t.Errorf("socket-activate's output (-want +got):\n%s", diff(story, got))
	}

	// SIGTERM reaches the server, which exits 0; the activator then closes
	// the stored connection, the last copy: the peer sees it end.
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("socket-activate exited with status %d after SIGTERM, want the server's 0", code)
	}
	select {
	case <-peer.closed:
	case <-time.After(timeout):
		t.Errorf("the peer's connection still open %v after socket-activate exited", timeout)
	}
}

// readyLine is what socket-activate prints for READY=1.
const readyLine = `^socket-activate: ready$`

// serverLine is what the server prints once it serves.
const serverLine = `^server: pid (\d+) serving on (\S+), inherited (\S+)$`

// answer is what the server answers.
type answer struct {
	PID       int    `json:"pid"`
	Inherited string `json:"inherited"`
	Echo      string `json:"echo"`
}

// get requests target and decodes the answer; for /peer it checks that the
// peer echoed msg.
func get(client *http.Client, target, msg string) (answer, error) {
	var a answer
	resp, err := client.Get(target)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return a, fmt.Errorf("GET %s: reading the body: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("GET %s: %s: %q", target, resp.Status, body)
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("GET %s: %w: %q", target, err, body)
	}
	if a.PID <= 0 || a.Echo != msg {
		return a, fmt.Errorf("GET %s: answer %q, want a pid and echo %q", target, body, msg)
	}
	return a, nil
}

// load sends requests from a few workers until halted, or until
// maxRequests or loadTime.
type load struct {
	mu           sync.Mutex
	requests     int // started
	peerRequests int // started, to /peer
	failed       int
	failures     []string    // the first few
	answered     map[int]int // requests answered, by pid
	peerAnswered map[int]int // /peer requests answered, by pid
	stop         chan struct{}
	stopOnce     sync.Once
	done         chan struct{} // closed when every worker returned
}

// startLoad starts the workers; the test's cleanup halts them.
func startLoad(t *testing.T, client *http.Client, base string) *load {
	l := &load{
		answered:     map[int]int{},
		peerAnswered: map[int]int{},
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	end := time.Now().Add(loadTime)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; l.next(end, i%peerEvery == peerEvery-1); i++ {
				if i%peerEvery != peerEvery-1 {
					a, err := get(client, base+"/", "")
					l.record(a, err, false)
					continue
				}
				msg := fmt.Sprintf("worker-%d-request-%d", w, i)
				a, err := get(client, base+"/peer?msg="+url.QueryEscape(msg), msg)
				l.record(a, err, true)
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

// next reports whether a worker may send another request and counts it.
func (l *load) next(end time.Time, peer bool) bool {
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
	if peer {
		l.peerRequests++
	}
	return true
}

// own counts a request the test sent itself, and its answer or failure.
func (l *load) own(a answer, err error, peer bool) {
	l.mu.Lock()
	l.requests++
	if peer {
		l.peerRequests++
	}
	l.mu.Unlock()
	l.record(a, err, peer)
}

// record counts an answer or a failure.
func (l *load) record(a answer, err error, peer bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if len(l.failures) < 5 {
			l.failures = append(l.failures, err.Error())
		}
		return
	}
	l.answered[a.PID]++
	if peer {
		l.peerAnswered[a.PID]++
	}
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

// peerAnsweredTotal returns the number of /peer requests answered.
func (l *load) peerAnsweredTotal() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.peerAnswered {
		n += k
	}
	return n
}

// peerServer echoes lines and counts the connections it accepts.
type peerServer struct {
	ln     net.Listener
	closed chan struct{} // closed when the first connection ends

	mu       sync.Mutex
	conns    []net.Conn
	nEchoed  int
	wg       sync.WaitGroup
	endFirst sync.Once
}

// startPeer starts the peer on a loopback port; the test's cleanup stops it.
func startPeer(t *testing.T) *peerServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &peerServer{ln: ln, closed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *peerServer) addr() string { return s.ln.Addr().String() }

// accept accepts connections until the listener is closed.
func (s *peerServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		first := len(s.conns) == 1
		s.wg.Add(1)
		s.mu.Unlock()
		go s.echo(c, first)
	}
}

// echo answers each line on c with the line, until c ends.
func (s *peerServer) echo(c net.Conn, first bool) {
	defer s.wg.Done()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		// Counted before the answer, which the test may get at once.
		s.mu.Lock()
		s.nEchoed++
		s.mu.Unlock()
		if _, err := fmt.Fprintf(c, "%s\n", sc.Text()); err != nil {
			break
		}
	}
	if first {
		s.endFirst.Do(func() { close(s.closed) })
	}
}

func (s *peerServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *peerServer) echoed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nEchoed
}

// activator is a socket-activate process run by the test.
type activator struct {
	cmd    *exec.Cmd
	stderr *output
	done   chan struct{} // closed once it exited and was reaped
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
	p := &activator{cmd: cmd, stderr: newOutput(r), done: make(chan struct{})}
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
		if m := p.stderr.matchingSubmatches(serverLine); len(m) > 0 {
			if pid, err := strconv.Atoi(m[len(m)-1][1]); err == nil {
				killServer(pid)
			}
		}
		if err := p.stderr.waitEOF(); err != nil {
			t.Errorf("socket-activate's output: %v", err)
		}
		r.Close()
		if t.Failed() {
			t.Logf("socket-activate's output:\n%s", p.stderr.text())
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
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 == serverBin {
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

// serverPIDs waits until n servers have started and returns their pids.
func (p *activator) serverPIDs(t *testing.T, n int) []int {
	t.Helper()
	var pids []int
	for _, m := range p.stderr.wait(t, serverLine, n) {
		pid, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
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

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func sortedCopy(s []int) []int {
	c := append([]int(nil), s...)
	sort.Ints(c)
	return c
}

func equal[T comparable](a, b []T) bool {
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
