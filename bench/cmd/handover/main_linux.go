//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-activation/activation/bench/internal/machine"
)

// config holds the knobs of one run.
type config struct {
	clients  int
	restarts int
	interval time.Duration
	body     int
	timeout  time.Duration
	modes    []string
}

// The modes: the server hands its idle connections over, or closes them.
var allModes = []string{"store", "nostore"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(); err != nil {
			fmt.Fprintf(os.Stderr, "server: %v\n", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "handover:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("handover", flag.ContinueOnError)
	cfg := config{}
	fs.IntVar(&cfg.clients, "clients", 32, "concurrent clients, each keeping its connection")
	fs.IntVar(&cfg.restarts, "restarts", 100, "restarts (SIGHUP) per mode")
	fs.DurationVar(&cfg.interval, "interval", 500*time.Millisecond, "load time before each restart, and after the last")
	fs.IntVar(&cfg.body, "body", 256, "bytes in each request's body")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "time limit of one request, and of each wait")
	modes := fs.String("modes", strings.Join(allModes, ","), "modes to run: store (--fdstore-max=256) and nostore (--fdstore-max=0)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("handover: unexpected arguments %q", fs.Args())
	}
	if cfg.clients < 1 || cfg.restarts < 1 || cfg.interval <= 0 || cfg.body < 1 || cfg.timeout <= 0 {
		return cfg, errors.New("handover: -clients, -restarts, -interval, -body and -timeout must be positive")
	}
	for _, m := range strings.Split(*modes, ",") {
		if !slices.Contains(allModes, m) {
			return cfg, fmt.Errorf("handover: unknown mode %q (want %s)", m, strings.Join(allModes, ", "))
		}
		cfg.modes = append(cfg.modes, m)
	}
	return cfg, nil
}

func run(cfg config, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "handover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	activator := filepath.Join(dir, "socket-activate")
	build := exec.Command("go", "build", "-o", activator, "github.com/go-activation/activation/cmd/socket-activate")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building socket-activate: %w\n%s", err, out)
	}
	start := time.Now()
	var results []*result
	for _, mode := range cfg.modes {
		r, err := measure(cfg, mode, activator, self)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		results = append(results, r)
	}
	var w bytes.Buffer
	writeReport(&w, cfg, results, time.Since(start))
	_, err = stdout.Write(w.Bytes())
	return err
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "handover: "+format+"\n", args...)
}

// sample is one request: when it started, since the load began, and how
// long it took.
type sample struct{ start, took time.Duration }

// result is what one mode's run saw.
type result struct {
	mode                 string
	requests, failed     int
	errors               map[string]int // failures, by kind
	dials                int64          // connections the clients opened
	tookBack             []int          // by server, in order
	fdLeaks              []string       // what the servers whose fds after Serve are off say
	leakingServers       int
	activatorSockets     int    // sockets of socket-activate with nothing stored
	storeLeaks           int    // restarts after which socket-activate kept a stored socket
	activatorFDsAt       [2]int // all fds of socket-activate after the first start, and at the end
	switches             []time.Duration
	steady, duringSwitch []time.Duration // request latencies
	servers              int
	stopped              int // servers that reported their stop
	killed               int // servers socket-activate killed 10s after SIGTERM
}

var (
	listeningLine = regexp.MustCompile(`^socket-activate: listening on (\S+) \(fd 3, name "web"\)$`)
	readyLine     = regexp.MustCompile(`^socket-activate: Active: active \(running\)$`)
	tookBackLine  = regexp.MustCompile(`^server: pid (\d+) took back (\d+) connections$`)
	stoppedLine   = regexp.MustCompile(`^server: pid (\d+) stopped with (\d+) fds open, (\d+) before serving$`)
	fdsLine       = regexp.MustCompile(`^server: pid \d+ fds (before|after) serving: .*$`)
	killedLine    = regexp.MustCompile(`^socket-activate: program still running .* after SIGTERM; sending SIGKILL$`)
)

// output follows socket-activate's output.
type output struct {
	mu     sync.Mutex
	lines  []string
	addr   chan string
	ready  chan time.Time
	closed chan struct{}
}

func follow(r io.Reader) *output {
	o := &output{addr: make(chan string, 1), ready: make(chan time.Time, 1024), closed: make(chan struct{})}
	go func() {
		defer close(o.closed)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			o.mu.Lock()
			o.lines = append(o.lines, line)
			o.mu.Unlock()
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				o.addr <- m[1]
			}
			if readyLine.MatchString(line) {
				o.ready <- time.Now()
			}
		}
	}()
	return o
}

func (o *output) matches(rx *regexp.Regexp) [][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var found [][]string
	for _, l := range o.lines {
		if m := rx.FindStringSubmatch(l); m != nil {
			found = append(found, m)
		}
	}
	return found
}

func (o *output) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

func measure(cfg config, mode, activator, self string) (*result, error) {
	// socket-activate --notify offers a store of 256 fds and sets FDSTORE
	// to that; --fdstore-max=0 turns the store off.
	args := []string{"--notify", "--fdstore-max=256", "--now", "--restart", "-l", "127.0.0.1:0", "--fdname=web"}
	if mode == "nostore" {
		args[1] = "--fdstore-max=0"
	}
	cmd := exec.Command(activator, append(args, self, "serve")...)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		pr.Close()
	}()
	out := follow(pr)
	fail := func(format string, args ...any) error {
		return fmt.Errorf(format+"\nsocket-activate's output:\n%s", append(args, out.text())...)
	}
	wait := func(ch <-chan time.Time, what string) (time.Time, error) {
		select {
		case t := <-ch:
			return t, nil
		case <-time.After(cfg.timeout):
			return time.Time{}, fail("no %s within %v", what, cfg.timeout)
		}
	}
	var addr string
	select {
	case addr = <-out.addr:
	case <-time.After(cfg.timeout):
		return nil, fail("socket-activate does not listen")
	}
	if _, err := wait(out.ready, "first READY=1"); err != nil {
		return nil, err
	}

	pid := strconv.Itoa(cmd.Process.Pid)
	res := &result{mode: mode, errors: map[string]int{}}
	if res.activatorSockets, err = sockets(pid); err != nil {
		return nil, err
	}
	if res.activatorFDsAt[0], err = fdCount(pid); err != nil {
		return nil, err
	}

	ld := startLoad(cfg, "http://"+addr+"/echo")
	type window struct{ from, to time.Duration }
	var windows []window
	for r := 1; r <= cfg.restarts; r++ {
		time.Sleep(cfg.interval)
		from := time.Since(ld.began)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return nil, err
		}
		readyAt, err := wait(out.ready, fmt.Sprintf("READY=1 after restart %d", r))
		if err != nil {
			ld.halt()
			return nil, err
		}
		windows = append(windows, window{from, readyAt.Sub(ld.began)})
		res.switches = append(res.switches, readyAt.Sub(ld.began)-from)
		// The next server removes what it took back from the store.
		deadline := time.Now().Add(cfg.timeout)
		for {
			n, err := sockets(pid)
			if err != nil {
				return nil, err
			}
			if n == res.activatorSockets {
				break
			}
			if time.Now().After(deadline) {
				res.storeLeaks++
				break
			}
			time.Sleep(time.Millisecond)
		}
		if r%10 == 0 || r == cfg.restarts {
			progress("%s: restart %d of %d: %d requests, %d failed", mode, r, cfg.restarts, ld.count.Load(), ld.failedCount.Load())
		}
	}
	time.Sleep(cfg.interval)
	ld.halt()
	if res.activatorFDsAt[1], err = fdCount(pid); err != nil {
		return nil, err
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil, err
	}
	select {
	case <-exited:
	case <-time.After(cfg.timeout):
		return nil, fail("socket-activate still running %v after SIGTERM", cfg.timeout)
	}
	select {
	case <-out.closed:
	case <-time.After(cfg.timeout):
		return nil, fail("socket-activate's output still open")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return nil, fail("socket-activate exited with status %d", code)
	}

	res.requests, res.failed, res.errors, res.dials = int(ld.count.Load()), int(ld.failedCount.Load()), ld.errors, ld.dials.Load()
	for _, m := range out.matches(tookBackLine) {
		n, _ := strconv.Atoi(m[2])
		res.tookBack = append(res.tookBack, n)
	}
	res.servers = len(res.tookBack)
	if res.servers != cfg.restarts+1 {
		return nil, fail("%d servers started, want %d", res.servers, cfg.restarts+1)
	}
	res.killed = len(out.matches(killedLine))
	tookBack := map[string]int{}
	for _, m := range out.matches(tookBackLine) {
		tookBack[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, m := range out.matches(stoppedLine) {
		res.stopped++
		after, _ := strconv.Atoi(m[2])
		before, _ := strconv.Atoi(m[3])
		if want := before - 1 - tookBack[m[1]]; after != want {
			res.leakingServers++
			res.fdLeaks = append(res.fdLeaks, fmt.Sprintf("pid %s: %d fds, want %d", m[1], after, want))
		}
	}
	for _, m := range out.matches(fdsLine) {
		res.fdLeaks = append(res.fdLeaks, m[0])
	}
	for _, s := range ld.samples() {
		during := false
		for _, w := range windows {
			if s.start <= w.to && s.start+s.took >= w.from {
				during = true
				break
			}
		}
		if during {
			res.duringSwitch = append(res.duringSwitch, s.took)
		} else {
			res.steady = append(res.steady, s.took)
		}
	}
	return res, nil
}

// sockets counts the sockets among the fds of process pid.
func sockets(pid string) (int, error) {
	dir := "/proc/" + pid + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n, nil
}

// load is the clients' work.
type load struct {
	began       time.Time
	stop        chan struct{}
	wg          sync.WaitGroup
	count       atomic.Int64
	failedCount atomic.Int64
	dials       atomic.Int64

	mu       sync.Mutex
	errors   map[string]int
	byWorker [][]sample
}

func startLoad(cfg config, url string) *load {
	ld := &load{began: time.Now(), stop: make(chan struct{}), errors: map[string]int{}, byWorker: make([][]sample, cfg.clients)}
	dialer := &net.Dialer{Timeout: cfg.timeout}
	client := &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.clients,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				ld.dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
		},
		Timeout: cfg.timeout,
	}
	for w := range cfg.clients {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			body := bytes.Repeat([]byte{'a' + byte(w%26)}, cfg.body)
			for i := 0; ; i++ {
				select {
				case <-ld.stop:
					return
				default:
				}
				copy(body, fmt.Sprintf("%d/%d ", w, i))
				start := time.Now()
				err := post(client, url, body)
				took := time.Since(start)
				ld.count.Add(1)
				if err != nil {
					ld.failedCount.Add(1)
					ld.mu.Lock()
					ld.errors[errorKind(err)]++
					ld.mu.Unlock()
					continue
				}
				ld.byWorker[w] = append(ld.byWorker[w], sample{start.Sub(ld.began), took})
			}
		}()
	}
	return ld
}

func (ld *load) halt() {
	close(ld.stop)
	ld.wg.Wait()
}

func (ld *load) samples() []sample {
	var all []sample
	for _, s := range ld.byWorker {
		all = append(all, s...)
	}
	return all
}

// post sends body and checks that the answer is a pid, a space and body.
func post(client *http.Client, url string, body []byte) error {
	resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	_, echo, ok := bytes.Cut(answer, []byte(" "))
	if resp.StatusCode != http.StatusOK || !ok || !bytes.Equal(echo, body) {
		return fmt.Errorf("wrong answer: %s, %d bytes", resp.Status, len(answer))
	}
	return nil
}

// errorKind names a failure for the report.
func errorKind(err error) string {
	s := err.Error()
	for _, kind := range []string{"server closed idle connection", "connection reset by peer", "EOF", "broken pipe", "Client.Timeout", "wrong answer"} {
		if strings.Contains(s, kind) {
			return kind
		}
	}
	return s
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func writeReport(w *bytes.Buffer, cfg config, rs []*result, took time.Duration) {
	date, goVersion, kernel, cpu := machine.Describe()
	fmt.Fprintf(w, "# Restarts under keep-alive load: hand-over against close\n\n")
	fmt.Fprintf(w, "%s, %s, %s, %s. %d clients keeping their connections send POSTs with a %d-byte body; %d restarts (SIGHUP) per mode, %v of load before each and after the last; the run took %v.\n\n",
		date, goVersion, kernel, cpu, cfg.clients, cfg.body, cfg.restarts, cfg.interval, took.Round(time.Second))
	fmt.Fprintf(w, "| | %s |\n|---|%s\n", strings.Join(modeNames(rs), " | "), strings.Repeat("---|", len(rs)))
	row := func(name string, f func(*result) string) {
		cells := make([]string, len(rs))
		for i, r := range rs {
			cells[i] = f(r)
		}
		fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
	}
	row("requests", func(r *result) string { return strconv.Itoa(r.requests) })
	row("failed requests", func(r *result) string { return strconv.Itoa(r.failed) })
	row("failures by error", func(r *result) string { return errorsText(r.errors) })
	row("connections handed over per restart (min / median / max)", func(r *result) string {
		if len(r.tookBack) < 2 {
			return "–"
		}
		n := slices.Clone(r.tookBack[1:])
		sort.Ints(n)
		return fmt.Sprintf("%d / %d / %d", n[0], n[len(n)/2], n[len(n)-1])
	})
	row("connections the clients opened", func(r *result) string { return strconv.FormatInt(r.dials, 10) })
	row("servers with an fd left open after Serve", func(r *result) string {
		return fmt.Sprintf("%d of %d", r.leakingServers, r.stopped)
	})
	row("servers killed 10 s after SIGTERM (stop not done)", func(r *result) string {
		return fmt.Sprintf("%d of %d", r.killed, r.servers)
	})
	row("restarts after which socket-activate kept a stored socket", func(r *result) string {
		return fmt.Sprintf("%d of %d", r.storeLeaks, cfg.restarts)
	})
	row("socket-activate's fds after the first start / at the end", func(r *result) string {
		return fmt.Sprintf("%d / %d", r.activatorFDsAt[0], r.activatorFDsAt[1])
	})
	row("switch, SIGHUP to the next READY=1 (median / max)", func(r *result) string {
		return ms(percentile(r.switches, 0.5)) + " / " + ms(percentile(r.switches, 1))
	})
	row("latency, requests outside a switch (median / p99 / max)", func(r *result) string {
		return ms(percentile(r.steady, 0.5)) + " / " + ms(percentile(r.steady, 0.99)) + " / " + ms(percentile(r.steady, 1))
	})
	row("latency, requests in flight during a switch (count; median / p99 / max)", func(r *result) string {
		return fmt.Sprintf("%d; %s / %s / %s", len(r.duringSwitch), ms(percentile(r.duringSwitch, 0.5)), ms(percentile(r.duringSwitch, 0.99)), ms(percentile(r.duringSwitch, 1)))
	})
	row("extra latency during a switch (median / max, over the median outside)", func(r *result) string {
		base := percentile(r.steady, 0.5)
		return ms(percentile(r.duringSwitch, 0.5)-base) + " / " + ms(percentile(r.duringSwitch, 1)-base)
	})
	for _, r := range rs {
		for _, leak := range r.fdLeaks {
			fmt.Fprintf(w, "\n%s: fd leak: %s", r.mode, leak)
		}
	}
	fmt.Fprintln(w)
}

func modeNames(rs []*result) []string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = map[string]string{"store": "with the store (--fdstore-max=256)", "nostore": "without a store (--fdstore-max=0)"}[r.mode]
	}
	return names
}

func errorsText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
