// Command editloop measures an edit-build loop under load: a small Go HTTP
// server is edited and rebuilt a number of times while keep-alive clients
// send GETs and POSTs, and the command counts the failed requests, the
// refused connections and how long clients waited while the server was
// switched to each new build. It runs the loop three ways:
//
//   - socket-activate --watch --build --notify: the new build starts on the
//     same socket and the old one stops once the new one sent READY=1;
//   - socket-activate --watch --build: the old one stops as soon as the
//     new one has started;
//   - go run, stopped with SIGTERM and started again on each change, as a
//     file watcher restarts it without an activator.
//
// Run it from the bench directory, on Linux, macOS or a BSD, with the go
// command on PATH:
//
//	go run ./cmd/editloop              # 10 edits per way, about two minutes
//	go run ./cmd/editloop -edits 3     # quicker
//
// It writes a Markdown table to standard output, and its progress to
// standard error. Flags: -edits, -workers, -settle, -timeout, -ways and
// -keep (keep the temporary directory).
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	edits   = flag.Int("edits", 10, "edits, and so rebuilds, per way")
	workers = flag.Int("workers", 8, "clients sending requests at once, each on a keep-alive connection")
	steady  = flag.Int("settle", 200, "answers from each new build before the next edit")
	timeout = flag.Duration("timeout", 2*time.Minute, "how long to wait for a new build to answer")
	ways    = flag.String("ways", "notify,watch,gorun", "which ways to run, from notify, watch and gorun")
	keep    = flag.Bool("keep", false, "keep the temporary directory")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("editloop: ")
	flag.Parse()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// way is one way of running the loop.
type way struct {
	name  string
	title string
	// start starts the server for the project in dir on addr and returns
	// a function that applies an edit (after writing it) and one that
	// stops everything.
	start func(dir, addr string) (edited func() error, stop func() error, err error)
}

func run() error {
	tmp, err := os.MkdirTemp("", "editloop-")
	if err != nil {
		return err
	}
	if *keep {
		log.Printf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	repo, err := goOutput("", "list", "-m", "-f", "{{.Dir}}", "github.com/go-activation/activation")
	if err != nil {
		return fmt.Errorf("finding the activation module: %w", err)
	}
	activator := filepath.Join(tmp, "socket-activate")
	if _, err := goOutput("", "build", "-o", activator, "github.com/go-activation/activation/cmd/socket-activate"); err != nil {
		return err
	}
	all := []way{{
		name:  "notify",
		title: "`socket-activate --watch --build --notify`",
		start: func(dir, addr string) (func() error, func() error, error) {
			return startActivator(activator, dir, addr, true)
		},
	}, {
		name:  "watch",
		title: "`socket-activate --watch --build`",
		start: func(dir, addr string) (func() error, func() error, error) {
			return startActivator(activator, dir, addr, false)
		},
	}, {
		name:  "gorun",
		title: "`go run`, restarted on change",
		start: startGoRun,
	}}
	var results []*result
	var titles []string
	for _, w := range all {
		if !slices.Contains(strings.Split(*ways, ","), w.name) {
			continue
		}
		dir := filepath.Join(tmp, w.name)
		if err := writeProject(dir, repo, 1); err != nil {
			return err
		}
		log.Printf("%s: %d edits, %d workers", w.name, *edits, *workers)
		r, err := measure(w, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		results = append(results, r)
		titles = append(titles, w.title)
	}
	printTable(os.Stdout, titles, results)
	return nil
}

// goOutput runs the go command in dir and returns its trimmed output.
func goOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// freeAddr returns a loopback address whose port was free a moment ago:
// go run's server listens on it itself, so it cannot be port 0.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startActivator runs socket-activate on the project in dir.
func startActivator(activator, dir, addr string, notify bool) (func() error, func() error, error) {
	args := []string{"--watch", ".", "--build", "go build -o ../app-" + filepath.Base(dir) + " .", "-l", addr, "-E", "ADDR=" + addr}
	if notify {
		args = append(args, "--notify")
	}
	args = append(args, filepath.Join(dir, "..", "app-"+filepath.Base(dir)))
	cmd := exec.Command(activator, args...)
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	// socket-activate sees the edit itself.
	edited := func() error { return nil }
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		return waitOrKill(cmd)
	}
	return edited, stop, nil
}

// startGoRun runs the project in dir with go run, as a file watcher does:
// each edit stops the process group with SIGTERM and starts go run again.
func startGoRun(dir, addr string) (func() error, func() error, error) {
	var cmd *exec.Cmd
	start := func() error {
		cmd = exec.Command("go", "run", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ADDR="+addr)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd.Start()
	}
	stop := func() error {
		// go run does not pass SIGTERM on: the group gets it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		return waitOrKill(cmd)
	}
	edited := func() error {
		if err := stop(); err != nil {
			log.Printf("go run: %v", err)
		}
		return start()
	}
	return edited, stop, start()
}

// waitOrKill waits for cmd, and kills its group after 30 seconds.
func waitOrKill(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil // a status from a signal it was sent
		}
		return err
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("%s still running 30s after SIGTERM; killed", cmd.Path)
	}
}

// result is what one way measured.
type result struct {
	requests, failed, refused int
	failures                  []string // the first few
	// Per edit: from the edit to the first answer of the new build, and
	// the longest answer a client got meanwhile (or until the old build
	// stopped answering, if later).
	switchTimes, switchWaits []time.Duration
	latencies                []time.Duration
	silence                  time.Duration // the longest time without an answer to any client
}

// measure runs the load and the edits against one way.
func measure(w way, dir string) (*result, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	edited, stop, err := w.start(dir, addr)
	if err != nil {
		return nil, err
	}
	l := newLoad("http://"+addr+"/", *workers)
	defer l.halt()
	if err := l.await("1", *steady, *timeout); err != nil {
		stop()
		return nil, err
	}
	// What it took to start does not count: only the edits do.
	l.reset()
	r := &result{}
	for e := 2; e <= *edits+1; e++ {
		v := strconv.Itoa(e)
		if err := writeMain(dir, e); err != nil {
			stop()
			return nil, err
		}
		at := time.Now()
		if err := edited(); err != nil {
			stop()
			return nil, err
		}
		if err := l.await(v, *steady, *timeout); err != nil {
			stop()
			return nil, err
		}
		first, longest := l.switched(v, at)
		r.switchTimes = append(r.switchTimes, first.Sub(at))
		r.switchWaits = append(r.switchWaits, longest)
		log.Printf("%s: edit %d answered %v after the edit; longest answer meanwhile %v", w.name, e-1, first.Sub(at).Round(time.Millisecond), longest.Round(time.Millisecond))
	}
	l.halt()
	if err := stop(); err != nil {
		log.Printf("%s: stopping: %v", w.name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r.requests, r.failed, r.refused, r.failures = l.requests, l.failed, l.refused, l.failures
	for i, a := range l.answers {
		r.latencies = append(r.latencies, a.took)
		if i > 0 {
			r.silence = max(r.silence, a.end.Sub(l.answers[i-1].end))
		}
	}
	return r, nil
}

// load sends GETs and POSTs from a few workers on keep-alive connections.
type load struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu                        sync.Mutex
	requests, failed, refused int
	failures                  []string
	answers                   []answer
	changed                   chan struct{} // closed and replaced on every answer
}

// answer is one answered request.
type answer struct {
	version    string
	start, end time.Time
	took       time.Duration
}

var answerRE = regexp.MustCompile(`^version (\S+) pid \d+ len (\d+) sha256 ([0-9a-f]+)\n$`)

func newLoad(url string, workers int) *load {
	l := &load{url: url, stop: make(chan struct{}), changed: make(chan struct{})}
	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer transport.CloseIdleConnections()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if !l.request(client, w, i) {
					// A polite client: not a busy loop while nothing listens.
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

// request sends one request, a GET or, every other time, a POST with a
// body the answer must describe, and records what came of it.
func (l *load) request(client *http.Client, w, i int) bool {
	var body []byte
	if i%2 == 1 {
		body = make([]byte, 1024+(w*31+i)%1024)
		rand.Read(body)
	}
	start := time.Now()
	var resp *http.Response
	var err error
	if body == nil {
		resp, err = client.Get(l.url)
	} else {
		resp, err = client.Post(l.url, "application/octet-stream", bytes.NewReader(body))
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	end := time.Now()
	m := answerRE.FindStringSubmatch(string(data))
	sum := sha256.Sum256(body)
	if err == nil && (resp.StatusCode != http.StatusOK || m == nil || m[2] != strconv.Itoa(len(body)) || m[3] != fmt.Sprintf("%x", sum[:8])) {
		err = fmt.Errorf("%s: %q for a body of %d bytes", resp.Status, data, len(body))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	if err != nil {
		l.failed++
		if errors.Is(err, syscall.ECONNREFUSED) {
			l.refused++
		} else if len(l.failures) < 5 {
			l.failures = append(l.failures, err.Error())
		}
		return false
	}
	l.answers = append(l.answers, answer{version: m[1], start: start, end: end, took: end.Sub(start)})
	close(l.changed)
	l.changed = make(chan struct{})
	return true
}

// await waits until version gave n answers.
func (l *load) await(version string, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		got := 0
		for _, a := range l.answers {
			if a.version == version {
				got++
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("version %s gave %d of %d answers within %v", version, got, n, timeout)
		}
	}
}

// switched returns when version first answered, and the longest answer of
// a request made after the edit at and before the new version answered
// or the old one last did.
func (l *load) switched(version string, at time.Time) (first time.Time, longest time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lastOld time.Time
	for _, a := range l.answers {
		if a.end.Before(at) {
			continue
		}
		if a.version == version && (first.IsZero() || a.end.Before(first)) {
			first = a.end
		}
		if a.version != version && a.end.After(lastOld) {
			lastOld = a.end
		}
	}
	until := first
	if lastOld.After(until) {
		until = lastOld
	}
	for _, a := range l.answers {
		if !a.start.Before(at) && !a.start.After(until) {
			longest = max(longest, a.took)
		}
	}
	return first, longest
}

// reset forgets the requests so far.
func (l *load) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests, l.failed, l.refused, l.failures, l.answers = 0, 0, 0, nil, nil
}

func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// printTable writes the results as a Markdown table.
func printTable(w io.Writer, titles []string, rs []*result) {
	row := func(name string, f func(r *result) string) {
		cells := []string{name}
		for _, r := range rs {
			cells = append(cells, f(r))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintf(w, "| %d edits, %d keep-alive clients | %s |\n", *edits, *workers, strings.Join(titles, " | "))
	fmt.Fprintf(w, "|---%s|\n", strings.Repeat("|---", len(titles)))
	row("requests", func(r *result) string { return strconv.Itoa(r.requests) })
	row("failed requests", func(r *result) string { return strconv.Itoa(r.failed) })
	row("refused connections", func(r *result) string { return strconv.Itoa(r.refused) })
	row("edit to first answer of the new build, median (max)", func(r *result) string {
		return fmt.Sprintf("%v (%v)", ms(median(r.switchTimes)), ms(slices.Max(r.switchTimes)))
	})
	row("longest answer during a switch, median (max)", func(r *result) string {
		return fmt.Sprintf("%v (%v)", ms(median(r.switchWaits)), ms(slices.Max(r.switchWaits)))
	})
	row("longest time without an answer to any client", func(r *result) string { return ms(r.silence) })
	row("answer time, median / 99th percentile", func(r *result) string {
		return fmt.Sprintf("%v / %v", ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)))
	})
	for i, r := range rs {
		for _, f := range r.failures {
			fmt.Fprintf(w, "\n%s, a failure: %s\n", titles[i], f)
		}
	}
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// ms rounds d for the table.
func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
