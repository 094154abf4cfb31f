//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

var funcs = []string{"Listeners", "Files"}

type callKey struct {
	fn   string
	n    int
	impl string
}

// callStats holds every child's result, by function, N and package.
type callStats struct {
	ns      []int
	results map[callKey][]callResult
}

// callTimeout bounds one measuring child; even N=4096 takes milliseconds.
const callTimeout = 60 * time.Second

func measureCalls(cfg config, self string, raw *bytes.Buffer) (*callStats, error) {
	st := &callStats{ns: cfg.ns, results: map[callKey][]callResult{}}
	for _, n := range cfg.ns {
		set, err := newListenerSet(n)
		if err != nil {
			return nil, err
		}
		err = measureCallsN(cfg, self, raw, set, n, st)
		set.close()
		if err != nil {
			return nil, err
		}
		progress("listeners: N=%d done", n)
	}
	return st, nil
}

func measureCallsN(cfg config, self string, raw *bytes.Buffer, set *listenerSet, n int, st *callStats) error {
	env := childEnv("LISTEN_FDS=" + strconv.Itoa(n))
	for i := range cfg.children {
		for _, fn := range funcs {
			order := []string{ours, gosd}
			if i%2 == 1 {
				order = []string{gosd, ours}
			}
			for _, pkg := range order {
				if err := set.resetBlocking(); err != nil {
					return err
				}
				o := runProcess([]string{self, "child", "call", pkg, fn, strconv.Itoa(n)}, set.files, env, callTimeout)
				if o.err != nil {
					return o.err
				}
				raw.Write(o.stdout)
				var res callResult
				if err := json.Unmarshal(o.stdout, &res); err != nil {
					return fmt.Errorf("report: child output %q: %w", o.stdout, err)
				}
				if res.Err != "" || res.Got != n {
					return fmt.Errorf("report: %s %s() with N=%d: got %d usable values, error %q", pkg, fn, n, res.Got, res.Err)
				}
				k := callKey{fn, n, pkg}
				st.results[k] = append(st.results[k], res)
			}
		}
	}
	return nil
}

// median reduces each child's result with f and returns the median.
func (st *callStats) median(k callKey, f func(callResult) float64) float64 {
	var xs []float64
	for _, r := range st.results[k] {
		xs = append(xs, f(r))
	}
	return median(xs)
}

func nsPerFD(r callResult) float64      { return float64(r.NS) / float64(r.N) }
func mallocsPerFD(r callResult) float64 { return float64(r.Mallocs) / float64(r.N) }
func bytesPerFD(r callResult) float64   { return float64(r.Bytes) / float64(r.N) }

// heldPerFD is the number of fds the child holds per activated socket
// after the call: the fds open afterwards, less those open before that were
// not passed, divided by N.
func heldPerFD(r callResult) float64 {
	return float64(r.FDsAfter-(r.FDsBefore-r.N)) / float64(r.N)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// straceCount is what one strace log says about the marked call.
type straceCount struct {
	thread int            // system calls of the calling thread between the markers
	own    int            // the same less the Go runtime's housekeeping
	all    int            // system calls of every thread between the markers
	byName map[string]int // the calling thread's system calls by name
}

// housekeeping names the system calls that the Go runtime makes on its
// own account (scheduling, signals, memory) on whatever thread it runs:
// they show up on the calling thread at random, a fraction per fd.
var housekeeping = map[string]bool{
	"futex": true, "rt_sigreturn": true, "rt_sigprocmask": true, "sigaltstack": true,
	"nanosleep": true, "sched_yield": true, "mmap": true, "munmap": true, "madvise": true,
	"mprotect": true, "clone": true, "clone3": true, "tgkill": true, "gettid": true,
	"epoll_pwait": true, "epoll_wait": true,
}

type syscallKey struct {
	fn   string
	impl string
	n    int
}

// syscallStats holds the median counts per function, package and N (1, 16).
type syscallStats struct {
	counts map[syscallKey]straceCount
}

const strace = "/usr/bin/strace"

var straceNs = []int{1, 16}

func measureSyscalls(cfg config, self string) (*syscallStats, error) {
	if _, err := os.Stat(strace); err != nil {
		return nil, fmt.Errorf("report: syscalls section needs %s: %w", strace, err)
	}
	dir, err := os.MkdirTemp("", "activation-bench-strace-")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer os.RemoveAll(dir)
	set, err := newListenerSet(straceNs[len(straceNs)-1])
	if err != nil {
		return nil, err
	}
	defer set.close()
	st := &syscallStats{counts: map[syscallKey]straceCount{}}
	for _, fn := range funcs {
		for _, pkg := range []string{ours, gosd} {
			for _, n := range straceNs {
				var runs []straceCount
				for i := range cfg.straceRuns {
					if err := set.resetBlocking(); err != nil {
						return nil, err
					}
					log := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%d.log", pkg, fn, n, i))
					argv := []string{strace, "-f", "-qq", "-o", log, self, "child", "call", pkg, fn, strconv.Itoa(n), "markers"}
					o := runProcess(argv, set.files[:n], childEnv("LISTEN_FDS="+strconv.Itoa(n)), callTimeout)
					if o.err != nil {
						return nil, o.err
					}
					var res callResult
					if err := json.Unmarshal(o.stdout, &res); err != nil {
						return nil, fmt.Errorf("report: child output %q: %w", o.stdout, err)
					}
					if res.Err != "" || res.Got != n {
						return nil, fmt.Errorf("report: %s %s() under strace with N=%d: got %d usable values, error %q", pkg, fn, n, res.Got, res.Err)
					}
					c, err := parseStrace(log)
					if err != nil {
						return nil, err
					}
					runs = append(runs, c)
				}
				st.counts[syscallKey{fn, pkg, n}] = medianRun(runs)
			}
		}
	}
	return st, nil
}

// medianRun picks the run whose count of the package's own calls is the
// median.
func medianRun(runs []straceCount) straceCount {
	sort.Slice(runs, func(i, j int) bool { return runs[i].own < runs[j].own })
	return runs[len(runs)/2]
}

// parseStrace reads an `strace -f -o` log. Lines look like
//
//	1234 write(-1, "bench-marker-begin", 18) = -1 EBADF (Bad file descriptor)
//	1234 fcntl(3, F_SETFD, FD_CLOEXEC <unfinished ...>
//	1235 <... futex resumed>) = 0
//	1234 --- SIGURG {si_signo=SIGURG, ...} ---
//
// A call is counted once, at the line where it starts; signals and
// "resumed" lines are not calls. Only the lines between the thread's begin
// and end markers count.
func parseStrace(path string) (straceCount, error) {
	f, err := os.Open(path)
	if err != nil {
		return straceCount{}, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	c := straceCount{byName: map[string]int{}}
	tid, inside, done := "", false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() && !done {
		pid, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, "<...") || strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "+++") {
			continue
		}
		name, _, ok := strings.Cut(rest, "(")
		if !ok {
			continue
		}
		switch {
		case name == "write" && strings.Contains(rest, `"`+markerBegin+`"`):
			tid, inside = pid, true
			continue
		case name == "write" && strings.Contains(rest, `"`+markerEnd+`"`) && pid == tid:
			done = true
			continue
		}
		if !inside {
			continue
		}
		c.all++
		if pid == tid {
			c.thread++
			c.byName[name]++
			if !housekeeping[name] {
				c.own++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return straceCount{}, fmt.Errorf("report: reading %s: %w", path, err)
	}
	if !done {
		return straceCount{}, fmt.Errorf("report: %s: markers %q and %q not both found on one thread", path, markerBegin, markerEnd)
	}
	return c, nil
}

// perFD returns (count(N=16) − count(N=1)) / 15 for the package's own
// calls, the calling thread and all threads, and the calling thread's
// per-fd breakdown by name.
func (st *syscallStats) perFD(fn, impl string) (own, thread, all float64, byName map[string]float64) {
	lo, hi := st.counts[syscallKey{fn, impl, straceNs[0]}], st.counts[syscallKey{fn, impl, straceNs[1]}]
	d := float64(straceNs[1] - straceNs[0])
	byName = map[string]float64{}
	for name, v := range hi.byName {
		byName[name] = float64(v-lo.byName[name]) / d
	}
	for name, v := range lo.byName {
		if _, ok := hi.byName[name]; !ok {
			byName[name] = float64(-v) / d
		}
	}
	return float64(hi.own-lo.own) / d, float64(hi.thread-lo.thread) / d, float64(hi.all-lo.all) / d, byName
}
