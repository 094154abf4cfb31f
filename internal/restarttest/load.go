package restarttest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// LoadConfig bounds a Load.
type LoadConfig struct {
	// Workers is the number of workers sending requests at once.
	Workers int
	// MaxRequests and Duration stop the load, whichever comes first,
	// even if the test is not done with it.
	MaxRequests int
	Duration    time.Duration
	// Timeout bounds each WaitFor.
	Timeout time.Duration
}

// Request sends the i-th request of worker w and returns the pid of the
// server that answered it, or 0 if the answer does not say, or why it
// failed.
type Request func(w, i int) (pid int, err error)

// maxFailures is how many failures a Load keeps to show.
const maxFailures = 5

// Load sends requests from a few workers until halted, or until its
// LoadConfig stops it, and counts the answers, by pid, and the failures.
type Load struct {
	config LoadConfig

	mu       sync.Mutex
	requests int // started
	answered int
	byPID    map[int]int // answers, by the pid that gave them
	failed   int
	failures []string // the first maxFailures

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when every worker returned
}

// StartLoad starts c.Workers workers that each call req until the load
// stops. The test's cleanup halts them.
func StartLoad(t testing.TB, c LoadConfig, req Request) *Load {
	l := &Load{config: c, byPID: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	end := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	for w := range c.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; l.next(end); i++ {
				l.record(req(w, i))
			}
		}()
	}
	go func() {
		wg.Wait()
		close(l.done)
	}()
	t.Cleanup(l.Halt)
	return l
}

// next reports whether a worker may send another request and counts it.
func (l *Load) next(end time.Time) bool {
	select {
	case <-l.stop:
		return false
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.requests >= l.config.MaxRequests || time.Now().After(end) {
		return false
	}
	l.requests++
	return true
}

// record counts an answer or a failure.
func (l *Load) record(pid int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		if len(l.failures) < maxFailures {
			l.failures = append(l.failures, err.Error())
		}
		return
	}
	l.answered++
	if pid != 0 {
		l.byPID[pid]++
	}
}

// Add counts a request the test sent itself, with the pid that answered
// it or why it failed, as if a worker had sent it.
func (l *Load) Add(pid int, err error) {
	l.mu.Lock()
	l.requests++
	l.mu.Unlock()
	l.record(pid, err)
}

// Halt stops the workers and waits for them.
func (l *Load) Halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// WaitFor waits until cond holds, checking it every millisecond. It fails
// the test, saying what it waited for, if the load stops first or after
// the timeout. Cond runs with l unlocked: it may call l's methods.
func (l *Load) WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(l.config.Timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		stopped := false
		select {
		case <-l.done:
			stopped = true
		default:
		}
		switch {
		case cond():
			return
		case stopped:
			t.Fatalf("the load stopped after %d requests, before %s", l.Requests(), what)
		case time.Now().After(deadline):
			t.Fatalf("no %s within %v", what, l.config.Timeout)
		}
		<-tick.C
	}
}

// Requests returns the number of requests started so far.
func (l *Load) Requests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests
}

// Answered returns the number of requests answered so far.
func (l *Load) Answered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered
}

// AnsweredBy returns the number of requests pid answered so far.
func (l *Load) AnsweredBy(pid int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPID[pid]
}

// ByPID returns the number of requests answered so far by each pid that
// answered one. The map is the caller's.
func (l *Load) ByPID() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[int]int, len(l.byPID))
	for pid, n := range l.byPID {
		m[pid] = n
	}
	return m
}

// PIDs returns the pids that answered so far, in increasing order.
func (l *Load) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	pids := make([]int, 0, len(l.byPID))
	for pid := range l.byPID {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// Failed returns the number of requests that failed so far.
func (l *Load) Failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Err returns nil if no request failed so far, else an error that counts
// the failures and shows the first few.
func (l *Load) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == 0 {
		return nil
	}
	return fmt.Errorf("restarttest: %d of %d requests failed; the first ones:\n%s", l.failed, l.requests, strings.Join(l.failures, "\n"))
}

// Client returns an HTTP client that opens a connection per request, so
// that each request is accepted by a server or waits in the listen backlog
// while none runs, and none is left idle in a server that stops. Timeout
// bounds each request.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   timeout,
	}
}

// Get requests url with client and returns the body of a 200 OK answer;
// any other status is an error that shows the body.
func Get(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("restarttest: GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("restarttest: GET %s: %s: %q", url, resp.Status, body)
	}
	return body, nil
}

// KeepAliveClient returns an HTTP client that keeps a connection open per
// worker, up to workers of them, and sends each request on one that is
// idle, as browsers and most HTTP clients do: a server that stops must not
// lose what such a client sends on a connection it kept. Timeout bounds each
// request.
func KeepAliveClient(workers int, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
		Timeout:   timeout,
	}
}

// Post sends body to url with client and returns the body of a 200 OK
// answer; any other status is an error that shows the body. The request is
// not idempotent: http.Transport does not send it again on another
// connection when the one it used ends without an answer.
func Post(client *http.Client, url string, body []byte) ([]byte, error) {
	resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("restarttest: POST %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answer, fmt.Errorf("restarttest: POST %s: %s: %q", url, resp.Status, answer)
	}
	return answer, nil
}
