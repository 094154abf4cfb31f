//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// hostileFDs is the LISTEN_FDS value passed with a single real fd.
const hostileFDs = 2000000000

// hostileRun is one hostile-input child, however it ended.
type hostileRun struct {
	verdict string        // "returned", "out of memory", "over the time limit" or "crashed: …"
	detail  string        // for a child that died: the runtime's message
	wall    time.Duration // process start to exit, parent's clock
	res     *hostileResult
}

type hostileStats struct {
	runs map[string][]hostileRun // by package
}

func measureHostile(cfg config, self string, raw *bytes.Buffer) (*hostileStats, error) {
	set, err := newListenerSet(1)
	if err != nil {
		return nil, err
	}
	defer set.close()
	st := &hostileStats{runs: map[string][]hostileRun{}}
	env := childEnv("LISTEN_FDS=" + strconv.Itoa(hostileFDs))
	for i := range cfg.hostileRuns {
		order := []string{ours, gosd}
		if i%2 == 1 {
			order = []string{gosd, ours}
		}
		for _, pkg := range order {
			if err := set.resetBlocking(); err != nil {
				return nil, err
			}
			argv := []string{self, "child", "hostile", pkg, "Listeners", strconv.FormatUint(cfg.hostileMem, 10)}
			// The limit covers the call; process start-up adds a few ms.
			o := runProcess(argv, set.files, env, cfg.hostileTimeout)
			run := hostileRun{wall: o.wall}
			switch {
			case o.timedOut:
				run.verdict = "over the time limit"
			case o.err != nil && isOOM(o.stderr):
				run.verdict, run.detail = "out of memory", oomLine(o.stderr)
			case o.err != nil:
				run.verdict = "crashed: " + firstLine(o.stderr)
			default:
				raw.Write(o.stdout)
				var res hostileResult
				if err := json.Unmarshal(o.stdout, &res); err != nil {
					return nil, fmt.Errorf("report: child output %q: %w", o.stdout, err)
				}
				run.verdict, run.res = "returned", &res
			}
			st.runs[pkg] = append(st.runs[pkg], run)
			progress("hostile: %s: %s after %v", pkg, run.verdict, o.wall.Round(time.Millisecond))
		}
	}
	return st, nil
}

func isOOM(stderr []byte) bool {
	s := string(stderr)
	return strings.Contains(s, "out of memory") || strings.Contains(s, "cannot allocate memory")
}

// oomLine is the runtime's line that says how much it failed to allocate,
// e.g. "runtime: out of memory: cannot allocate 16001269760-byte block".
func oomLine(stderr []byte) string {
	for _, line := range strings.Split(string(stderr), "\n") {
		if strings.Contains(line, "cannot allocate") || strings.Contains(line, "out of memory") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
