//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-activation/activation/internal/restarttest"
)

func init() { moreHelpers["http"] = serveHTTP }

// serveHTTP serves HTTP on fd 3 until SIGTERM, then stops without losing
// a request (see drainServer). It answers every request with the version
// in the file SA_TEST_STATE names, read at its start, its pid, and the
// length and SHA-256 of the request's body. It says "serving version V"
// and, under --notify, sends READY=1 once it serves.
func serveHTTP() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	version, err := os.ReadFile(os.Getenv(stateEnv))
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(version))
	l, err := net.FileListener(os.NewFile(3, "web"))
	if err != nil {
		return err
	}
	d := newDrainServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		fmt.Fprintf(w, "version %s pid %d len %d sha256 %x\n", v, os.Getpid(), len(body), sum[:8])
	}))
	go d.srv.Serve(l)
	fmt.Printf("serving version %s\n", v)
	if os.Getenv("NOTIFY_SOCKET") != "" {
		if err := notify("READY=1", nil); err != nil {
			return err
		}
	}
	<-sigs
	return d.stop(l)
}

// drainServer is an HTTP server that stops without losing a request, even
// on keep-alive connections, whose clients may send the next request just
// as the server closes them. Stopping, it closes its listener (the
// activator keeps the socket: connections not accepted wait for the next
// program), answers every request that comes on a connection it has with
// "Connection: close", and closes the connections left once each has
// been quiet (idle after an answer, or new with no request yet: a client
// may dial one it then does not use) for idleGrace since the last thing
// it did and since the stop began.
type drainServer struct {
	srv      *http.Server
	stopping atomic.Bool
	mu       sync.Mutex
	quiet    map[net.Conn]time.Time // since when; zero while a request is handled
}

// idleGrace is how long a connection must stay quiet while the server
// stops before the server closes it.
const idleGrace = 500 * time.Millisecond

func newDrainServer(h http.Handler) *drainServer {
	d := &drainServer{quiet: map[net.Conn]time.Time{}}
	d.srv = &http.Server{
		ReadHeaderTimeout: timeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d.stopping.Load() {
				w.Header().Set("Connection", "close")
			}
			h.ServeHTTP(w, r)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			d.mu.Lock()
			defer d.mu.Unlock()
			switch s {
			case http.StateNew, http.StateIdle:
				d.quiet[c] = time.Now()
			case http.StateActive:
				d.quiet[c] = time.Time{}
			default:
				delete(d.quiet, c)
			}
		},
	}
	return d
}

// stop stops serving as drainServer says, within timeout.
func (d *drainServer) stop(l net.Listener) error {
	d.stopping.Store(true)
	l.Close()
	began := time.Now()
	for time.Since(began) < timeout && !d.drained(began) {
		time.Sleep(5 * time.Millisecond)
	}
	return d.srv.Close()
}

// drained reports whether every connection left has been quiet for
// idleGrace, and the server stopping for as long.
func (d *drainServer) drained(began time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, since := range d.quiet {
		if since.IsZero() || time.Since(since) < idleGrace || time.Since(began) < idleGrace {
			return false
		}
	}
	return true
}

// editLoad sends keep-alive GETs and POSTs to url from a few workers and
// counts the answers by version, the refused connections and the
// slowest answer.
type editLoad struct {
	*restarttest.Load
	mu        sync.Mutex
	versions  map[string]int // answers by version
	order     []string       // versions in the order they first answered
	refused   int
	slowest   time.Duration
	transport *http.Transport
}

var answerRE = regexp.MustCompile(`^version (\S+) pid (\d+) len (\d+) sha256 ([0-9a-f]+)\n$`)

func startEditLoad(t *testing.T, url string, workers int) *editLoad {
	e := &editLoad{versions: map[string]int{}}
	// Keep-alive, one idle connection per worker.
	e.transport = &http.Transport{MaxIdleConnsPerHost: workers}
	t.Cleanup(e.transport.CloseIdleConnections)
	client := &http.Client{Transport: e.transport, Timeout: timeout}
	e.Load = restarttest.StartLoad(t, restarttest.LoadConfig{Workers: workers, MaxRequests: 1 << 20, Duration: 4 * timeout, Timeout: timeout},
		func(w, i int) (int, error) {
			body := []byte{}
			if i%2 == 1 {
				body = make([]byte, 1024+i%512)
				rand.Read(body)
			}
			start := time.Now()
			var resp *http.Response
			var err error
			if len(body) == 0 {
				resp, err = client.Get(url)
			} else {
				resp, err = client.Post(url, "application/octet-stream", bytes.NewReader(body))
			}
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					e.mu.Lock()
					e.refused++
					e.mu.Unlock()
				}
				return 0, err
			}
			answer, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if err != nil {
				return 0, err
			}
			m := answerRE.FindStringSubmatch(string(answer))
			sum := sha256.Sum256(body)
			if resp.StatusCode != http.StatusOK || m == nil || m[3] != strconv.Itoa(len(body)) || m[4] != fmt.Sprintf("%x", sum[:8]) {
				return 0, fmt.Errorf("%s: %q for %d bytes", resp.Status, answer, len(body))
			}
			e.mu.Lock()
			if e.versions[m[1]] == 0 {
				e.order = append(e.order, m[1])
			}
			e.versions[m[1]]++
			e.slowest = max(e.slowest, took)
			e.mu.Unlock()
			pid, _ := strconv.Atoi(m[2])
			return pid, nil
		})
	return e
}

// answeredBy returns the number of answers version gave so far.
func (e *editLoad) answeredBy(version string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.versions[version]
}

func TestWatchSwitchesToEachBuildWithoutLosingARequest(t *testing.T) {
	dir := t.TempDir()
	src, built := filepath.Join(dir, "src"), filepath.Join(dir, "built")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	source, artifact := filepath.Join(src, "version.txt"), filepath.Join(built, "version")
	write(t, source, "1")
	// The build "compiles" version.txt: a version starting "broken" fails;
	// one ending "slow" builds once the file gate exists.
	gate := filepath.Join(dir, "gate")
	build := fmt.Sprintf(`v=$(cat %[1]q); case $v in broken*) echo "version.txt: $v: does not build" >&2; exit 2;; `+
		`*slow) while [ ! -e %[4]q ]; do sleep 0.01; done;; esac; `+
		`mkdir -p %[2]q && echo "$v" > %[3]q.new && mv %[3]q.new %[3]q`, source, built, artifact, gate)
	p := startProc(t, append([]string{"--watch", src, "--build", build, "--notify", "-l", "127.0.0.1:0", "-E", stateEnv + "=" + artifact}, helperArgs(t, "http")...)...)
	addr := p.addrs(t, 1)[0]
	p.stdout.Wait(t, "^serving version 1$", 1)

	const workers, perVersion = 4, 50
	load := startEditLoad(t, "http://"+addr+"/", workers)
	served := func(v string) {
		load.WaitFor(t, fmt.Sprintf("%d answers from version %s", perVersion, v), func() bool { return load.answeredBy(v) >= perVersion })
	}
	served("1")

	write(t, source, "2")
	served("2")

	// A build that fails keeps the program that runs.
	write(t, source, "broken")
	p.stderr.Wait(t, `^version.txt: broken: does not build$`, 1)
	p.stderr.Wait(t, `^socket-activate: build failed \(exit status 2\) after `, 1)
	before := load.answeredBy("2")
	load.WaitFor(t, "version 2 to answer on after the failed build", func() bool { return load.answeredBy("2") >= before+perVersion })

	// Changes made during a build make one more build, of the last change.
	write(t, source, "3 slow")
	p.stderr.Wait(t, `; building: `, 4) // at start, for 2, broken, 3
	write(t, source, "4")
	write(t, source, "5")
	write(t, gate, "")
	served("5")
	load.Halt()

	t.Logf("%d requests, %d failed, %d refused; answers by version %v; slowest answer %v",
		load.Requests(), load.Failed(), load.refused, load.versions, load.slowest)
	if err := load.Err(); err != nil {
		t.Error(err)
	}
	if load.refused != 0 {
		t.Errorf("%d connections refused", load.refused)
	}
	if got, want := strings.Join(load.order, " "), "1 2 5"; got != want {
		t.Errorf("versions answered, in order: %s; want %s (3 is out of date once built, 4 never built)", got, want)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit status %d, want the program's 0", code)
	}
	waitEOF(t, p.stderr)
	for _, c := range []struct {
		line string
		n    int
	}{
		{`^socket-activate: changed: .*version\.txt; building: `, 3},
		{`^socket-activate: changed during the build: .*version\.txt; building: `, 1},
		{`^socket-activate: build succeeded in `, 4},
		{`^socket-activate: starting the new build: `, 2},
		// The first program's READY=1, then each new build's, which
		// makes it the main process.
		{`^socket-activate: Active: active \(running\)$`, 1},
		{`^socket-activate: new program: Active: active \(running\)$`, 2},
		{`^socket-activate: Main PID: \d+$`, 2},
		{`^socket-activate: warning: `, 0},
		{`^socket-activate: stopping the program that ran before \(pid \d+\) with SIGTERM$`, 2},
		{`^socket-activate: the program that runs keeps running$`, 1},
	} {
		if got := len(p.stderr.Matches(c.line)); got != c.n {
			t.Errorf("%d lines match %q, want %d", got, c.line, c.n)
		}
	}
}

func TestWatchWithoutBuildOrNotifyLosesNothing(t *testing.T) {
	dir := t.TempDir()
	source := filepath.Join(dir, "version.txt")
	write(t, source, "1")
	p := startProc(t, append([]string{"--watch", source, "-l", "127.0.0.1:0", "-E", stateEnv + "=" + source}, helperArgs(t, "http")...)...)
	addr := p.addrs(t, 1)[0]
	p.stdout.Wait(t, "^serving version 1$", 1)
	load := startEditLoad(t, "http://"+addr+"/", 4)
	load.WaitFor(t, "answers from version 1", func() bool { return load.answeredBy("1") >= 50 })
	// The new program starts, and the old one stops, at once: connections
	// wait in the backlog for the new one.
	write(t, source, "2")
	load.WaitFor(t, "answers from version 2", func() bool { return load.answeredBy("2") >= 50 })
	load.Halt()
	t.Logf("%d requests, %d failed, %d refused; slowest answer %v", load.Requests(), load.Failed(), load.refused, load.slowest)
	if err := load.Err(); err != nil || load.refused != 0 {
		t.Errorf("%d refused; %v", load.refused, err)
	}
	p.stderr.Wait(t, `^socket-activate: stopping the program that ran before \(pid \d+\) with SIGTERM$`, 1)
}
