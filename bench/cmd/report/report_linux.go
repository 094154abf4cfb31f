//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-activation/activation/bench/internal/machine"
)

// target is one line of the targets table.
type target struct {
	name, measured string
	pass           bool
	reason         string // why it missed
}

func writeReport(w *bytes.Buffer, cfg config, r *results, took time.Duration) {
	date, goVersion, kernel, cpu := machine.Describe()
	fmt.Fprintf(w, "# Socket activation: github.com/go-activation/activation vs go-systemd v22.7.0\n\n")
	fmt.Fprintf(w, "- date: %s\n- go: %s\n- kernel: %s\n- CPU: %s\n", date, goVersion, kernel, cpu)
	fmt.Fprintf(w, "- command: `go run ./cmd/report %s` (run time %v)\n\n", strings.Join(os.Args[1:], " "), took.Round(time.Second))
	if cfg.quick {
		fmt.Fprintf(w, "**Smoke run (-quick): the counts are too small for the figures to mean much.**\n\n")
	}

	targets := collectTargets(r)
	if len(targets) > 0 {
		fmt.Fprintf(w, "## Targets\n\n| target | measured | result |\n|---|---|---|\n")
		for _, t := range targets {
			res := "PASS"
			if !t.pass {
				res = "MISS: " + t.reason
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.name, t.measured, res)
		}
		fmt.Fprintln(w)
	}
	if r.calls != nil {
		writeCalls(w, r.calls)
	}
	if r.syscalls != nil {
		writeSyscalls(w, r.syscalls)
	}
	if r.hostile != nil {
		writeHostile(w, cfg, r.hostile)
	}
	if r.serving != nil {
		writeServing(w, cfg, r.serving)
	}
	if r.coldstart != nil {
		writeColdStart(w, r.coldstart)
	}
}

func collectTargets(r *results) []target {
	var ts []target
	if st := r.calls; st != nil {
		for _, n := range st.ns {
			o, g := callKey{"Listeners", n, ours}, callKey{"Listeners", n, gosd}
			on, gn := st.median(o, nsPerFD), st.median(g, nsPerFD)
			ts = append(ts, target{
				name:     fmt.Sprintf("Listeners() time per fd ≤ 1.1× go-systemd, N=%d", n),
				measured: fmt.Sprintf("%s vs %s (%.2f×)", fmtNS(on), fmtNS(gn), on/gn),
				pass:     on <= 1.1*gn,
				reason:   fmt.Sprintf("%.2f× go-systemd's time", on/gn),
			})
			om, gm := st.median(o, mallocsPerFD), st.median(g, mallocsPerFD)
			ob, gb := st.median(o, bytesPerFD), st.median(g, bytesPerFD)
			ts = append(ts, target{
				name:     fmt.Sprintf("Listeners() allocations per fd ≤ go-systemd, N=%d", n),
				measured: fmt.Sprintf("%.2f (%.0f B) vs %.2f (%.0f B)", om, ob, gm, gb),
				pass:     om <= gm,
				reason:   fmt.Sprintf("%.2f more allocations per fd", om-gm),
			})
		}
		var held []string
		pass := true
		for _, n := range st.ns {
			lo, hi := 1e9, -1e9
			for _, res := range st.results[callKey{"Listeners", n, ours}] {
				h := heldPerFD(res)
				lo, hi = min(lo, h), max(hi, h)
			}
			pass = pass && lo == 1 && hi == 1
			held = append(held, fmt.Sprintf("N=%d: %s", n, fmtRange(lo, hi)))
		}
		ts = append(ts, target{
			name:     "exactly one fd held per activated socket (Listeners(), every child)",
			measured: strings.Join(held, "; "),
			pass:     pass,
			reason:   "not exactly 1 in every child",
		})
	}
	if st := r.syscalls; st != nil {
		own, thread, all, _ := st.perFD("Listeners", ours)
		gown, _, _, _ := st.perFD("Listeners", gosd)
		ts = append(ts, target{
			name:     "≤ 11 system calls per activated listener (Listeners(), the package's own calls)",
			measured: fmt.Sprintf("%.2f (go-systemd %.2f); with runtime housekeeping %.2f, all threads %.2f", own, gown, thread, all),
			pass:     own <= 11,
			reason:   fmt.Sprintf("%.2f per fd", own),
		})
	}
	if st := r.hostile; st != nil {
		runs := st.runs[ours]
		var times []float64
		worstRSS, worstHeap := int64(0), uint64(0)
		returned := true
		for _, run := range runs {
			if run.res == nil {
				returned = false
				continue
			}
			times = append(times, float64(run.res.NS))
			worstRSS = max(worstRSS, run.res.PeakAfterKiB-run.res.PeakBeforeKiB)
			worstHeap = max(worstHeap, run.res.Bytes)
		}
		t := target{name: fmt.Sprintf("hostile LISTEN_FDS=%d: < 1 ms and < 1 MiB extra memory", hostileFDs)}
		if !returned || len(times) == 0 {
			t.measured, t.reason = "did not return", "see the hostile section"
		} else {
			tm := median(times)
			t.measured = fmt.Sprintf("%s (median of %d), peak RSS growth ≤ %d KiB, heap ≤ %d B", fmtNS(tm), len(times), worstRSS, worstHeap)
			t.pass = tm < 1e6 && worstRSS < 1024 && worstHeap < 1<<20
			t.reason = "over 1 ms or 1 MiB"
		}
		ts = append(ts, t)
	}
	if st := r.serving; st != nil {
		a, p, r := median(st.rps["activated"]), median(st.rps["plain"]), median(st.ratios)
		ts = append(ts, target{
			name:     "serving: activated / net.Listen req/s ≥ 0.98, alternating rounds (median of the per-round ratios)",
			measured: fmt.Sprintf("%.3f (ratio of the medians %.0f / %.0f = %.3f)", r, a, p, a/p),
			pass:     r >= 0.98,
			reason:   fmt.Sprintf("ratio %.3f", r),
		})
		sa, sp, sr := median(st.simRPS["activated"]), median(st.simRPS["plain"]), median(st.simRatios)
		ts = append(ts, target{
			name:     "serving: activated / net.Listen req/s ≥ 0.98, simultaneous rounds (median of the per-round ratios)",
			measured: fmt.Sprintf("%.3f (ratio of the medians %.0f / %.0f = %.3f)", sr, sa, sp, sa/sp),
			pass:     sr >= 0.98,
			reason:   fmt.Sprintf("ratio %.3f", sr),
		})
	}
	if st := r.coldstart; st != nil {
		o, p := medianDur(st.times["ours"]), medianDur(st.times["plain-triggered"])
		ts = append(ts, target{
			name:     "cold start (first byte) within 2% of the plain server (both exec'd by systemd-socket-activate)",
			measured: fmt.Sprintf("%s vs %s (%+.1f%%)", fmtDur(o), fmtDur(p), 100*(float64(o)/float64(p)-1)),
			pass:     float64(o) <= 1.02*float64(p),
			reason:   fmt.Sprintf("%+.1f%%", 100*(float64(o)/float64(p)-1)),
		})
	}
	return ts
}

func writeCalls(w *bytes.Buffer, st *callStats) {
	fmt.Fprintf(w, "## 1. One call per fresh process, per inherited fd (medians)\n\n")
	fmt.Fprintf(w, "| function | N | package | time per fd | ours / go-systemd | allocs per fd | bytes per fd | fds held per socket | fd table (FDSize) before → after | page faults per call | children |\n")
	fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, fn := range funcs {
		for _, n := range st.ns {
			g := st.median(callKey{fn, n, gosd}, nsPerFD)
			for _, pkg := range []string{ours, gosd} {
				k := callKey{fn, n, pkg}
				t := st.median(k, nsPerFD)
				ratio := ""
				if pkg == ours {
					ratio = fmt.Sprintf("%.2f×", t/g)
				}
				lo, hi := 1e9, -1e9
				for _, res := range st.results[k] {
					lo, hi = min(lo, heldPerFD(res)), max(hi, heldPerFD(res))
				}
				fn := fn + "()"
				if pkg == gosd && fn == "Files()" {
					fn = "Files(true)"
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.2f | %.0f | %s | %s | %.0f | %d |\n",
					fn, n, pkg, fmtNS(t), ratio, st.median(k, mallocsPerFD), st.median(k, bytesPerFD),
					fmtRange(lo, hi), fdTables(st.results[k]), st.median(k, func(r callResult) float64 { return float64(r.MinFlt) }),
					len(st.results[k]))
			}
		}
	}
	fmt.Fprintln(w)
	if len(st.ns) < 2 {
		return
	}
	lo, hi := st.ns[0], st.ns[len(st.ns)-1]
	fmt.Fprintf(w, "Marginal cost of one more fd, from the medians of the whole call at N=%d and N=%d: (total(N=%d) − total(N=%d)) / %d.\n\n", lo, hi, hi, lo, hi-lo)
	fmt.Fprintf(w, "| function | package | time per extra fd | allocs per extra fd | bytes per extra fd |\n|---|---|---:|---:|---:|\n")
	total := func(k callKey, field func(callResult) uint64) float64 {
		return st.median(k, func(r callResult) float64 { return float64(field(r)) })
	}
	d := float64(hi - lo)
	for _, fn := range funcs {
		for _, pkg := range []string{ours, gosd} {
			kl, kh := callKey{fn, lo, pkg}, callKey{fn, hi, pkg}
			ns := func(r callResult) uint64 { return uint64(r.NS) }
			mallocs := func(r callResult) uint64 { return r.Mallocs }
			bytes := func(r callResult) uint64 { return r.Bytes }
			fmt.Fprintf(w, "| %s() | %s | %s | %.2f | %.0f |\n", fn, pkg,
				fmtNS((total(kh, ns)-total(kl, ns))/d),
				(total(kh, mallocs)-total(kl, mallocs))/d,
				(total(kh, bytes)-total(kl, bytes))/d)
		}
	}
	fmt.Fprintln(w)
}

// fdTables summarises the fd-table sizes before and after the call over
// the children: the most common pair, e.g. "512 → 1024".
func fdTables(rs []callResult) string {
	count := map[string]int{}
	best, bestN := "—", 0
	for _, r := range rs {
		k := fmt.Sprintf("%d → %d", r.FDTableBefore, r.FDTableAfter)
		count[k]++
		if count[k] > bestN {
			best, bestN = k, count[k]
		}
	}
	if len(count) > 1 {
		best += fmt.Sprintf(" (%d of %d)", bestN, len(rs))
	}
	return best
}

func writeSyscalls(w *bytes.Buffer, st *syscallStats) {
	fmt.Fprintf(w, "## 2. System calls during one call (strace -f, between markers)\n\n")
	fmt.Fprintf(w, "| function | package | calls, N=1 | calls, N=16 | per fd: own | per fd: calling thread | per fd: all threads | per fd by name (calling thread) |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, fn := range funcs {
		for _, pkg := range []string{ours, gosd} {
			lo, hi := st.counts[syscallKey{fn, pkg, 1}], st.counts[syscallKey{fn, pkg, 16}]
			own, thread, all, byName := st.perFD(fn, pkg)
			fmt.Fprintf(w, "| %s() | %s | %d / %d / %d | %d / %d / %d | %.2f | %.2f | %.2f | %s |\n",
				fn, pkg, lo.own, lo.thread, lo.all, hi.own, hi.thread, hi.all, own, thread, all, fmtByName(byName))
		}
	}
	fmt.Fprintf(w, "\nCounts are own / calling thread / all threads. \"Own\" is the calling thread less the Go runtime's housekeeping calls (%s). Per fd = (count(N=16) − count(N=1)) / 15.\n\n", housekeepingList())
}

func writeHostile(w *bytes.Buffer, cfg config, st *hostileStats) {
	fmt.Fprintf(w, "## 3. Hostile input: LISTEN_FDS=%d with one real fd, Listeners()\n\n", hostileFDs)
	fmt.Fprintf(w, "Cap: RLIMIT_AS %d MiB set in the child; time limit %v (the parent kills the child).\n\n", cfg.hostileMem>>20, cfg.hostileTimeout)
	fmt.Fprintf(w, "| package | run | outcome | call time (child clock) | process wall time | RSS before the call | peak RSS growth during the call | heap allocated by the call | returned error, or how it died |\n")
	fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|---|\n")
	for _, pkg := range []string{ours, gosd} {
		for i, run := range st.runs[pkg] {
			call, before, growth, heap, errText := "—", "—", "—", "—", "—"
			if run.detail != "" {
				errText = "`" + run.detail + "`"
			}
			if run.res != nil {
				call = fmtNS(float64(run.res.NS))
				before = fmt.Sprintf("%d KiB", run.res.PeakBeforeKiB)
				growth = fmt.Sprintf("%d KiB", run.res.PeakAfterKiB-run.res.PeakBeforeKiB)
				heap = fmt.Sprintf("%d B", run.res.Bytes)
				if run.res.Err != "" {
					errText = "`" + run.res.Err + "`"
				} else {
					errText = fmt.Sprintf("none (%d listeners)", run.res.Got)
				}
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
				pkg, i+1, run.verdict, call, fmtDur(run.wall), before, growth, heap, errText)
		}
	}
	fmt.Fprintln(w)
}

func writeServing(w *bytes.Buffer, cfg config, st *servingStats) {
	fmt.Fprintf(w, "## 4. Serving: HTTP/1.1 keep-alive GET, %d clients, %d rounds of each kind\n\n", cfg.concurrency, cfg.rounds)
	fmt.Fprintf(w, "Alternating rounds: one server at a time, %d requests per round, the order swapped every round", cfg.requests)
	if st.warmup {
		fmt.Fprintf(w, " (one unrecorded warm-up round of each first)")
	}
	fmt.Fprintf(w, ". Simultaneous rounds: both servers at once, %d clients each, until one has had %d requests.\n\n", cfg.concurrency/2, cfg.requests/2)
	fmt.Fprintf(w, "| rounds | listener | median req/s | min | max | per-round ratios activated / net.Listen | median ratio |\n|---|---|---:|---:|---:|---|---:|\n")
	for _, m := range []struct {
		name   string
		rps    map[string][]float64
		ratios []float64
	}{{"alternating", st.rps, st.ratios}, {"simultaneous", st.simRPS, st.simRatios}} {
		var rs []string
		for _, r := range m.ratios {
			rs = append(rs, fmt.Sprintf("%.3f", r))
		}
		for _, kind := range listenerKinds {
			xs := m.rps[kind]
			label, ratios, med := "activated (ours, Listeners())", strings.Join(rs, ", "), fmt.Sprintf("%.3f", median(m.ratios))
			if kind == "plain" {
				label, ratios, med = "net.Listen", "", ""
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %.0f | %s | %s |\n", m.name, label, median(xs), minOf(xs), maxOf(xs), ratios, med)
		}
	}
	fmt.Fprintln(w)
}

func writeColdStart(w *bytes.Buffer, st *coldStats) {
	fmt.Fprintf(w, "## 5. Cold start: first connection attempt to first response byte\n\n")
	fmt.Fprintf(w, "| server | started by | clock starts | median | min | max | starts |\n|---|---|---|---:|---:|---:|---:|\n")
	for _, name := range coldRuns {
		label, by, clock := "", "systemd-socket-activate -l ADDR server: exec on the first connection", "connect() to ADDR"
		switch name {
		case "ours":
			label = "ours (activation.Listeners())"
		case "gosd":
			label = "go-systemd (activation.Listeners())"
		case "plain-triggered":
			label = "plain (net.Listen itself)"
			by = "systemd-socket-activate -l TRIGGER server: exec on a connection to TRIGGER"
			clock = fmt.Sprintf("connect() to TRIGGER; then its own port dialled every %v until it connects", retryInterval)
		case "plain-direct":
			label = "plain (net.Listen itself)"
			by = "the report process (fork + exec)"
			clock = fmt.Sprintf("just before fork; its port dialled every %v until it connects", retryInterval)
		}
		xs := st.times[name]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d |\n", label, by, clock, fmtDur(medianDur(xs)), fmtDur(minDur(xs)), fmtDur(maxDur(xs)), len(xs))
	}
	fmt.Fprintf(w, "\nRetry-loop uncertainty of the plain runs (median time from the end of the last refused dial to the dial that connected): triggered %s, direct %s.\n\n",
		fmtDur(medianDur(st.pollGap["plain-triggered"])), fmtDur(medianDur(st.pollGap["plain-direct"])))
}

func housekeepingList() string {
	var names []string
	for name := range housekeeping {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func fmtNS(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func fmtDur(d time.Duration) string { return fmtNS(float64(d)) }

func fmtRange(lo, hi float64) string {
	if lo == hi {
		return fmt.Sprintf("%.3g", lo)
	}
	return fmt.Sprintf("%.3g–%.3g", lo, hi)
}

func fmtByName(m map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var kvs []kv
	for k, v := range m {
		if v != 0 {
			kvs = append(kvs, kv{k, v})
		}
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].v != kvs[j].v {
			return kvs[i].v > kvs[j].v
		}
		return kvs[i].k < kvs[j].k
	})
	var parts []string
	for _, e := range kvs {
		parts = append(parts, fmt.Sprintf("%s %.3g", e.k, e.v))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func durs(xs []time.Duration) []float64 {
	var fs []float64
	for _, x := range xs {
		fs = append(fs, float64(x))
	}
	return fs
}

func medianDur(xs []time.Duration) time.Duration { return time.Duration(median(durs(xs))) }
func minDur(xs []time.Duration) time.Duration    { return time.Duration(minOf(durs(xs))) }
func maxDur(xs []time.Duration) time.Duration    { return time.Duration(maxOf(durs(xs))) }
