//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-activation/activation/bench/internal/hello"
)

// The child modes: the report binary re-executes itself as
//
//	report child call PKG FUNC N [markers]  one timed call, one JSON line
//	report child hostile PKG FUNC CAPBYTES  one call under RLIMIT_AS, one JSON line
//	report child serve activated|plain      HTTP server, prints "ready ADDR"
//	report child load REQUESTS CONC ADDR [ADDR2]  load generator, one JSON line
func runChild(args []string) error {
	if len(args) == 0 {
		return errors.New("report: child: missing mode")
	}
	switch mode, rest := args[0], args[1:]; {
	case mode == "call" && (len(rest) == 3 || len(rest) == 4 && rest[3] == "markers"):
		n, err := strconv.Atoi(rest[2])
		if err != nil {
			return fmt.Errorf("report: child: bad N %q", rest[2])
		}
		return childCall(rest[0], rest[1], n, len(rest) == 4)
	case mode == "hostile" && len(rest) == 3:
		limit, err := strconv.ParseUint(rest[2], 10, 64)
		if err != nil {
			return fmt.Errorf("report: child: bad memory cap %q", rest[2])
		}
		return childHostile(rest[0], rest[1], limit)
	case mode == "serve" && len(rest) == 1:
		return childServe(rest[0])
	case mode == "load" && (len(rest) == 3 || len(rest) == 4):
		requests, err1 := strconv.Atoi(rest[0])
		conc, err2 := strconv.Atoi(rest[1])
		if err1 != nil || err2 != nil || requests < 1 || conc < len(rest)-2 {
			return fmt.Errorf("report: child: bad load arguments %q", rest)
		}
		return childLoad(rest[2:], requests, conc)
	}
	return fmt.Errorf("report: child: bad arguments %q", args)
}

// callResult is what one "call" child prints.
type callResult struct {
	Impl      string `json:"impl"`
	Func      string `json:"func"`
	N         int    `json:"n"`
	Got       int    `json:"got"`
	NS        int64  `json:"ns"`
	Mallocs   uint64 `json:"mallocs"`
	Bytes     uint64 `json:"bytes"`
	FDsBefore int    `json:"fds_before"`
	FDsAfter  int    `json:"fds_after"`
	// FDSize of /proc/self/status: the size of the fd table, which the
	// kernel grows when an fd above it is needed.
	FDTableBefore int `json:"fdtable_before"`
	FDTableAfter  int `json:"fdtable_after"`
	// Minor page faults of the process during the call (getrusage).
	MinFlt int64  `json:"minflt"`
	Err    string `json:"err,omitempty"`
}

// hostileResult is what one "hostile" child prints when the call returns.
type hostileResult struct {
	Impl string `json:"impl"`
	Func string `json:"func"`
	NS   int64  `json:"ns"`
	// VmHWM of /proc/self/status: the peak RSS of this process image (not
	// getrusage's ru_maxrss, which Linux carries across exec from the
	// forking parent). The peak is reset to the current RSS just before
	// the call, so PeakAfterKiB − PeakBeforeKiB is what the call added.
	PeakBeforeKiB int64  `json:"peak_before_kib"`
	PeakAfterKiB  int64  `json:"peak_after_kib"`
	Bytes         uint64 `json:"bytes"`
	Got           int    `json:"got"`
	Err           string `json:"err,omitempty"`
}

// loadResult is what one "load" child prints for each server it loaded.
type loadResult struct {
	Requests int     `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
}

// prepareChild puts a child in the same state for both packages: the
// runtime's network poller already exists (so its epoll and eventfd fds are
// not charged to the first package that makes a pollable fd), and LISTEN_PID
// names this process, as a manager's fork would have set it.
func prepareChild() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("report: child: %w", err)
	}
	r.Close()
	w.Close()
	return os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
}

// invoke calls fn of the package named pkg once. It returns what must stay
// alive while fds are counted, how many usable values came back, and the
// error of the call.
func invoke(pkg, fn string) (keep any, got int, err error) {
	im, err := implByName(pkg)
	if err != nil {
		return nil, 0, err
	}
	switch fn {
	case "Listeners":
		ls, err := im.listeners()
		for _, l := range ls {
			if _, ok := l.(*net.TCPListener); ok {
				got++
			}
		}
		return ls, got, err
	case "Files":
		fs, err := im.files()
		for _, f := range fs {
			if f != nil {
				got++
			}
		}
		return fs, got, err
	}
	return nil, 0, fmt.Errorf("report: unknown function %q", fn)
}

// marker makes a system call that cannot be mistaken for anything else in
// an strace log: a write of the text to fd -1, which fails with EBADF.
func marker(text string) {
	_, _ = syscall.Write(-1, []byte(text))
}

const (
	markerBegin = "bench-marker-begin"
	markerEnd   = "bench-marker-end"
)

func countFDs() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("report: child: %w", err)
	}
	return len(entries), nil
}

// fdTableSize reads FDSize from /proc/self/status.
func fdTableSize() (int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("report: child: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("report: child: no FDSize in /proc/self/status")
}

func childCall(pkg, fn string, n int, markers bool) error {
	if err := prepareChild(); err != nil {
		return err
	}
	if markers {
		// Keep the call on the thread whose system calls are counted.
		runtime.LockOSThread()
	}
	res := callResult{Impl: pkg, Func: fn, N: n}
	var err error
	if res.FDsBefore, err = countFDs(); err != nil {
		return err
	}
	if res.FDTableBefore, err = fdTableSize(); err != nil {
		return err
	}
	var before, after runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		return os.NewSyscallError("getrusage", err)
	}
	if markers {
		marker(markerBegin)
	}
	start := time.Now()
	keep, got, callErr := invoke(pkg, fn)
	elapsed := time.Since(start)
	if markers {
		marker(markerEnd)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		return os.NewSyscallError("getrusage", err)
	}
	runtime.ReadMemStats(&after)
	if res.FDsAfter, err = countFDs(); err != nil {
		return err
	}
	if res.FDTableAfter, err = fdTableSize(); err != nil {
		return err
	}
	runtime.KeepAlive(keep)
	res.Got, res.NS = got, elapsed.Nanoseconds()
	res.MinFlt = int64(ru1.Minflt - ru0.Minflt)
	res.Mallocs = after.Mallocs - before.Mallocs
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	if callErr != nil {
		res.Err = callErr.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// peakRSSKiB reads VmHWM from /proc/self/status.
func peakRSSKiB() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("report: child: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("report: child: no VmHWM in /proc/self/status")
}

// resetPeakRSS sets VmHWM to the current RSS (Linux 4.0 and later).
func resetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("report: child: resetting the peak RSS: %w", err)
	}
	return nil
}

func childHostile(pkg, fn string, limit uint64) error {
	if err := prepareChild(); err != nil {
		return err
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		return os.NewSyscallError("setrlimit", err)
	}
	res := hostileResult{Impl: pkg, Func: fn}
	var err error
	if err := resetPeakRSS(); err != nil {
		return err
	}
	if res.PeakBeforeKiB, err = peakRSSKiB(); err != nil {
		return err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	keep, got, callErr := invoke(pkg, fn)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if res.PeakAfterKiB, err = peakRSSKiB(); err != nil {
		return err
	}
	runtime.KeepAlive(keep)
	res.NS, res.Got = elapsed.Nanoseconds(), got
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	if callErr != nil {
		res.Err = callErr.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func childServe(kind string) error {
	var l net.Listener
	switch kind {
	case "activated":
		if err := prepareChild(); err != nil {
			return err
		}
		im, err := implByName(ours)
		if err != nil {
			return err
		}
		ls, err := im.listeners()
		if err != nil {
			return err
		}
		if len(ls) != 1 {
			return fmt.Errorf("report: child: want 1 activated listener, got %d", len(ls))
		}
		l = ls[0]
	case "plain":
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("report: child: unknown listener kind %q", kind)
	}
	fmt.Printf("ready %s\n", l.Addr())
	return hello.Serve(l)
}

// childLoad loads the servers at addrs with conc keep-alive clients split
// evenly between them. Each server gets at most requests requests; when the
// first of them has had its share, every client stops, so that with two
// servers both rates are measured over the same stretch of time.
func childLoad(addrs []string, requests, conc int) error {
	type side struct {
		client     *http.Client
		url        string
		next, done atomic.Int64
		failed     atomic.Int64
		conns      int
	}
	sides := make([]*side, len(addrs))
	for i, addr := range addrs {
		n := conc / len(addrs)
		tr := &http.Transport{
			MaxIdleConns:        n,
			MaxIdleConnsPerHost: n,
			MaxConnsPerHost:     n,
			DisableCompression:  true,
		}
		sides[i] = &side{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: "http://" + addr + "/", conns: n}
	}
	get := func(sd *side) error {
		resp, err := sd.client.Get(sd.url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %s", resp.Status)
		}
		return err
	}
	run := func(total int) time.Duration {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for _, sd := range sides {
			sd.next.Store(0)
			sd.done.Store(0)
			sd.failed.Store(0)
			for range sd.conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						k := sd.next.Add(1)
						if k > int64(total) {
							return
						}
						if k == int64(total) {
							stop.Store(true)
						}
						if get(sd) != nil {
							sd.failed.Add(1)
						} else {
							sd.done.Add(1)
						}
					}
				}()
			}
		}
		start := time.Now()
		wg.Wait()
		return time.Since(start)
	}
	// Warm up: open the keep-alive connections and let both sides settle.
	run(min(requests/10+conc, 5000))
	for i, sd := range sides {
		if n := sd.failed.Load(); n > 0 {
			return fmt.Errorf("report: load: %d requests to %s failed while warming up", n, addrs[i])
		}
	}
	elapsed := run(requests)
	var res []loadResult
	for _, sd := range sides {
		done := int(sd.done.Load())
		res = append(res, loadResult{
			Requests: done,
			Errors:   sd.failed.Load(),
			Seconds:  elapsed.Seconds(),
			RPS:      float64(done) / elapsed.Seconds(),
		})
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
