//go:build linux

package fdstore

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

const (
	// timeout bounds every wait for a process, a line or a condition.
	timeout = 15 * time.Second
	// perServer: each server answers this many requests before the test
	// restarts it, so that requests are under way at every restart.
	perServer = 100
	// peerEvery: every peerEvery-th request of a worker goes to /peer.
	peerEvery = 4
	restarts  = 3
)

// loadConfig stops the load after 4000 requests or 20s, whichever comes
// first, even if the test is not done with it.
var loadConfig = restarttest.LoadConfig{Workers: 8, MaxRequests: 4000, Duration: 20 * time.Second, Timeout: timeout}

// serverPackage is the server the tests run under socket-activate.
const serverPackage = "github.com/go-activation/activation/internal/fdstore/testdata/server"

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
	code := m.Run()
	if err := restarttest.RemoveBuilt(); err != nil {
		fmt.Fprintf(os.Stderr, "fdstore: %v\n", err)
	}
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
	serverBin := restarttest.Build(t, serverPackage)
	config := restarttest.ActivatorConfig{
		Path:    restarttest.BuildActivator(t),
		Program: serverBin,
		PIDLine: serverLine,
		Timeout: timeout,
	}
	peer := startPeer(t)
	var p *restarttest.Activator
	var addr string
	var story []string
	if own {
		config.Args = []string{"--notify", "--now", "--restart", "-E", "PEER=" + peer.addr(), "-E", "OWN_LISTENER=1", serverBin}
		p = restarttest.StartActivator(t, config)
		addr = p.Output.Wait(t, serverLine, 1)[0][2]
	} else {
		config.Args = []string{"--notify", "--restart", "-l", "127.0.0.1:0", "--fdname=web", "-E", "PEER=" + peer.addr(), serverBin}
		p = restarttest.StartActivator(t, config)
		addr = p.Output.Wait(t, `^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`, 1)[0][1]
		story = append(story, `Listening on `+addr+` as 3.`, `socket-activate: listening on `+addr+` (fd 3, name "web")`)
	}
	base := "http://" + addr
	client := restarttest.Client(timeout)

	// Without --now the first request starts the server; with --now it
	// runs already.
	first, err := get(client, base+"/", "")
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	p.Output.Wait(t, readyLine, 1)
	if pids := p.PIDs(t, 1); first.PID != pids[0] {
		t.Fatalf("first request answered by pid %d, want the server's %d", first.PID, pids[0])
	}

	var toPeer peerCounts
	l := restarttest.StartLoad(t, loadConfig, func(w, i int) (int, error) {
		if i%peerEvery != peerEvery-1 {
			a, err := get(client, base+"/", "")
			return a.PID, err
		}
		msg := fmt.Sprintf("worker-%d-request-%d", w, i)
		toPeer.started()
		a, err := get(client, base+"/peer?msg="+url.QueryEscape(msg), msg)
		toPeer.record(a, err)
		return a.PID, err
	})
	l.Add(first.PID, nil)
	for r := 1; r <= restarts; r++ {
		pid := p.PIDs(t, r)[r-1]
		l.WaitFor(t, fmt.Sprintf("%d requests answered by pid %d", perServer, pid), func() bool { return l.AnsweredBy(pid) >= perServer })
		p.Signal(t, syscall.SIGHUP)
		p.PIDs(t, r+1)
		p.Output.Wait(t, readyLine, r+1)
	}
	pids := p.PIDs(t, restarts+1)
	last := pids[restarts]
	l.WaitFor(t, fmt.Sprintf("%d requests, one to /peer, answered by pid %d", perServer, last), func() bool {
		return l.AnsweredBy(last) >= perServer && toPeer.answeredBy(last) > 0
	})
	l.Halt()

	toPeer.started()
	after, err := get(client, base+"/peer?msg=after-restarts", "after-restarts")
	toPeer.record(after, err)
	l.Add(after.PID, err)
	if err != nil {
		t.Fatalf("/peer after the restarts: %v", err)
	}

	answered := l.PIDs()
	t.Logf("%d requests (%d to /peer), %d failed, %d restarts, pids %v answered %v, %d peer connections, %d lines echoed",
		l.Requests(), toPeer.requests(), l.Failed(), restarts, pids, l.ByPID(), peer.accepted(), peer.echoed())
	totals.Lock()
	sum.runs++
	sum.requests += l.Requests()
	sum.peerRequests += toPeer.requests()
	sum.failed += l.Failed()
	sum.restarts += restarts
	sum.pids += len(answered)
	sum.peerConns += peer.accepted()
	totals.Unlock()

	if err := l.Err(); err != nil {
		t.Error(err)
	}
	if after.PID != last {
		t.Errorf("/peer after the restarts answered by pid %d, want the last server's %d", after.PID, last)
	}
	if want := sortedCopy(pids); !slices.Equal(answered, want) {
		t.Errorf("pids that answered: %v; want every server started: %v", answered, pids)
	}
	if n := peer.accepted(); n != 1 {
		t.Errorf("the peer accepted %d connections, want 1", n)
	}
	if n, want := peer.echoed(), toPeer.answered(); n != want {
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
	execing := `Execing ` + serverBin + ` (` + serverBin + `)`
	if !own {
		// Without --now the first request starts the server.
		story = append(story, `Communication attempt on fd 3.`)
	}
	story = append(story,
		`socket-activate: Active: activating (start)`,
		execing,
		`server: pid PID serving on `+addr+`, inherited `+firstInherited,
		`socket-activate: Active: active (running)`)
	for r := 1; r <= restarts; r++ {
		story = append(story,
			`socket-activate: SIGHUP: stopping the program with SIGTERM to restart it`,
			`socket-activate: Active: deactivating (stop-sigterm)`,
			`socket-activate: Active: inactive (dead)`,
			`socket-activate: Active: activating (start)`,
			`socket-activate: restarting (restart `+strconv.Itoa(r)+`): `+serverBin,
			execing,
			`server: pid PID serving on `+addr+`, inherited web:conn`,
			`socket-activate: Active: active (running)`)
	}
	if got := p.Output.Replaced(`pid \d+`, "pid PID"); !slices.Equal(got, story) {
		t.Errorf("socket-activate's output (-want +got):\n%s", restarttest.Diff(story, got))
	}

	// SIGTERM reaches the server, which exits 0; the activator then closes
	// the stored connection, the last copy: the peer sees it end.
	p.Signal(t, syscall.SIGTERM)
	if code := p.ExitCode(t); code != 0 {
		t.Errorf("socket-activate exited with status %d after SIGTERM, want the server's 0", code)
	}
	select {
	case <-peer.closed:
	case <-time.After(timeout):
		t.Errorf("the peer's connection still open %v after socket-activate exited", timeout)
	}
}

// readyLine is what socket-activate prints for READY=1.
const readyLine = `^socket-activate: Active: active \(running\)$`

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
	body, err := restarttest.Get(client, target)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("GET %s: %w: %q", target, err, body)
	}
	if a.PID <= 0 || a.Echo != msg {
		return a, fmt.Errorf("GET %s: answer %q, want a pid and echo %q", target, body, msg)
	}
	return a, nil
}

// peerCounts counts the requests to /peer, the load's and the test's own.
type peerCounts struct {
	mu    sync.Mutex
	n     int         // started
	byPID map[int]int // answered, by pid
}

// started counts a request to /peer about to be sent.
func (c *peerCounts) started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

// record counts the answer to a request to /peer, unless it failed.
func (c *peerCounts) record(a answer, err error) {
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byPID == nil {
		c.byPID = map[int]int{}
	}
	c.byPID[a.PID]++
}

// requests returns the number of requests to /peer started.
func (c *peerCounts) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// answeredBy returns the number of requests to /peer pid answered.
func (c *peerCounts) answeredBy(pid int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPID[pid]
}

// answered returns the number of requests to /peer answered.
func (c *peerCounts) answered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.byPID {
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

func sortedCopy(s []int) []int {
	c := append([]int(nil), s...)
	sort.Ints(c)
	return c
}
