//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

var listenerKinds = []string{"activated", "plain"}

type servingStats struct {
	rps    map[string][]float64 // alternating rounds: by listener kind, one value per round
	ratios []float64            // alternating rounds: activated / plain within each round
	warmup bool                 // whether an unrecorded warm-up round ran first

	// Simultaneous rounds: both servers loaded at once, each by half the
	// clients, over the same stretch of time.
	simRPS    map[string][]float64
	simRatios []float64
}

// loadTimeout bounds one load-generator run.
const loadTimeout = 5 * time.Minute

func measureServing(cfg config, self string, raw *bytes.Buffer) (*servingStats, error) {
	st := &servingStats{rps: map[string][]float64{}, simRPS: map[string][]float64{}, warmup: !cfg.quick}
	first := 0
	if st.warmup {
		first = -1 // round 0 warms up the page cache, CPU frequency and so on
	}
	for i := first; i < cfg.rounds; i++ {
		// Alternate which kind goes first, so drifting load hits both.
		order := listenerKinds
		if i%2 != 0 {
			order = []string{listenerKinds[1], listenerKinds[0]}
		}
		got := map[string]float64{}
		for _, kind := range order {
			res, err := serveRound(cfg, self, []string{kind}, cfg.requests, raw)
			if err != nil {
				return nil, err
			}
			got[kind] = res[0].RPS
			progress("serving: round %d %s: %.0f req/s", i+1, kind, res[0].RPS)
		}
		if i < 0 {
			continue
		}
		for _, kind := range listenerKinds {
			st.rps[kind] = append(st.rps[kind], got[kind])
		}
		st.ratios = append(st.ratios, got["activated"]/got["plain"])
	}
	for i := range cfg.rounds {
		// Swap the servers' places in the load generator every round.
		order := listenerKinds
		if i%2 != 0 {
			order = []string{listenerKinds[1], listenerKinds[0]}
		}
		res, err := serveRound(cfg, self, order, cfg.requests/2, raw)
		if err != nil {
			return nil, err
		}
		got := map[string]float64{order[0]: res[0].RPS, order[1]: res[1].RPS}
		for _, kind := range listenerKinds {
			st.simRPS[kind] = append(st.simRPS[kind], got[kind])
		}
		st.simRatios = append(st.simRatios, got["activated"]/got["plain"])
		progress("serving: simultaneous round %d: activated %.0f, plain %.0f req/s", i+1, got["activated"], got["plain"])
	}
	return st, nil
}

// startServer starts a server child with the given kind of listener and
// returns its address and a function that stops it.
func startServer(self, kind string) (addr string, stop func(), err error) {
	cmd := exec.Command(self, "child", "serve", kind)
	cmd.Stderr = os.Stderr
	cmd.Env = childEnv()
	set := &listenerSet{}
	if kind == "activated" {
		if set, err = newListenerSet(1); err != nil {
			return "", nil, err
		}
		cmd.ExtraFiles = set.files
		cmd.Env = childEnv("LISTEN_FDS=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		set.close()
		return "", nil, fmt.Errorf("report: %w", err)
	}
	err = cmd.Start()
	set.close() // the child has its own copy now
	if err != nil {
		return "", nil, fmt.Errorf("report: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		var ok bool
		if addr, ok = strings.CutPrefix(strings.TrimSpace(line), "ready "); !ok {
			stop()
			return "", nil, fmt.Errorf("report: %s server child said %q, want \"ready ADDR\"", kind, line)
		}
	case <-time.After(10 * time.Second):
		stop()
		return "", nil, fmt.Errorf("report: %s server child not ready after 10s", kind)
	}
	return addr, stop, nil
}

// serveRound starts one server child per kind, loads them all at once from
// one load-generator child, and stops the servers.
func serveRound(cfg config, self string, kinds []string, requests int, raw *bytes.Buffer) ([]loadResult, error) {
	argv := []string{self, "child", "load", strconv.Itoa(requests), strconv.Itoa(cfg.concurrency)}
	for _, kind := range kinds {
		addr, stop, err := startServer(self, kind)
		if err != nil {
			return nil, err
		}
		defer stop()
		argv = append(argv, addr)
	}
	o := runProcess(argv, nil, childEnv(), loadTimeout)
	if o.err != nil {
		return nil, o.err
	}
	raw.Write(o.stdout)
	var res []loadResult
	if err := json.Unmarshal(o.stdout, &res); err != nil {
		return nil, fmt.Errorf("report: load output %q: %w", o.stdout, err)
	}
	if len(res) != len(kinds) {
		return nil, fmt.Errorf("report: load output %q: want %d results", o.stdout, len(kinds))
	}
	for i, r := range res {
		if r.Errors > 0 {
			return nil, fmt.Errorf("report: %d requests to the %s server failed", r.Errors, kinds[i])
		}
	}
	return res, nil
}
