//go:build linux

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds the knobs of one run.
type config struct {
	children       int           // child processes per package, function and N
	ns             []int         // numbers of inherited listeners
	straceRuns     int           // strace runs per package, function and N
	hostileRuns    int           // hostile runs per package
	hostileTimeout time.Duration // time limit of one hostile run
	hostileMem     uint64        // RLIMIT_AS of one hostile run
	requests       int           // requests per serving round
	concurrency    int           // keep-alive clients
	rounds         int           // serving rounds per listener kind
	starts         int           // cold starts per server
	sections       map[string]bool
	out            string
	quick          bool
}

var allSections = []string{"listeners", "syscalls", "hostile", "serving", "coldstart"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		if err := runChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
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
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	children := fs.Int("children", 30, "child processes per package, function and N (each measures one call)")
	nsFlag := fs.String("n", "1,16,256,4096", "comma-separated numbers of inherited listeners")
	straceRuns := fs.Int("strace-runs", 5, "strace runs per package, function and N (median taken)")
	hostileRuns := fs.Int("hostile-runs", 3, "hostile-input runs per package")
	hostileTimeout := fs.Duration("hostile-timeout", 20*time.Second, "time limit of one hostile-input run")
	hostileMem := fs.Uint64("hostile-mem", 2<<30, "address-space cap (RLIMIT_AS, bytes) of one hostile-input run")
	requests := fs.Int("requests", 200000, "requests per serving round")
	concurrency := fs.Int("concurrency", 32, "keep-alive HTTP clients of the load generator")
	rounds := fs.Int("rounds", 7, "serving rounds of each kind (alternating, then simultaneous)")
	starts := fs.Int("starts", 30, "cold starts per server")
	retry := fs.Duration("retry", retryInterval, "pause between refused dials of the plain cold-start server")
	sections := fs.String("sections", strings.Join(allSections, ","), "comma-separated sections to run")
	out := fs.String("out", "", "also write the report and the raw child output into this directory")
	quick := fs.Bool("quick", false, "smoke run: few children, small counts (overrides the count flags)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *retry <= 0 || *retry > time.Second {
		return config{}, fmt.Errorf("report: -retry must be in (0, 1s], got %v", *retry)
	}
	retryInterval = *retry
	if fs.NArg() != 0 {
		return config{}, fmt.Errorf("report: unexpected arguments %q", fs.Args())
	}
	cfg := config{
		children:       *children,
		straceRuns:     *straceRuns,
		hostileRuns:    *hostileRuns,
		hostileTimeout: *hostileTimeout,
		hostileMem:     *hostileMem,
		requests:       *requests,
		concurrency:    *concurrency,
		rounds:         *rounds,
		starts:         *starts,
		sections:       map[string]bool{},
		out:            *out,
		quick:          *quick,
	}
	for _, s := range strings.Split(*nsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 100000 {
			return config{}, fmt.Errorf("report: bad -n value %q", s)
		}
		cfg.ns = append(cfg.ns, n)
	}
	for _, s := range strings.Split(*sections, ",") {
		s = strings.TrimSpace(s)
		known := false
		for _, k := range allSections {
			known = known || k == s
		}
		if !known {
			return config{}, fmt.Errorf("report: unknown section %q (have %s)", s, strings.Join(allSections, ", "))
		}
		cfg.sections[s] = true
	}
	if cfg.quick {
		cfg.children, cfg.straceRuns, cfg.hostileRuns = 3, 1, 1
		cfg.hostileTimeout = 5 * time.Second
		cfg.requests, cfg.rounds, cfg.starts = 20000, 1, 5
	}
	for name, v := range map[string]int{
		"-children": cfg.children, "-strace-runs": cfg.straceRuns, "-hostile-runs": cfg.hostileRuns,
		"-requests": cfg.requests, "-concurrency": cfg.concurrency, "-rounds": cfg.rounds, "-starts": cfg.starts,
	} {
		if v < 1 {
			return config{}, fmt.Errorf("report: %s must be at least 1, got %d", name, v)
		}
	}
	return cfg, nil
}

// results gathers what each section measured; a nil section was not run.
type results struct {
	calls     *callStats
	syscalls  *syscallStats
	hostile   *hostileStats
	serving   *servingStats
	coldstart *coldStats
}

func run(cfg config, stdout io.Writer) error {
	if err := raiseNoFile(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	started := time.Now()
	var raw bytes.Buffer // every child's output line, for -out
	r := &results{}
	if cfg.sections["listeners"] {
		progress("listeners: %d children per package, function and N in %v", cfg.children, cfg.ns)
		if r.calls, err = measureCalls(cfg, self, &raw); err != nil {
			return err
		}
	}
	if cfg.sections["syscalls"] {
		progress("syscalls: strace, %d runs per package, function and N", cfg.straceRuns)
		if r.syscalls, err = measureSyscalls(cfg, self); err != nil {
			return err
		}
	}
	if cfg.sections["hostile"] {
		progress("hostile: LISTEN_FDS=%d, %d runs per package", hostileFDs, cfg.hostileRuns)
		if r.hostile, err = measureHostile(cfg, self, &raw); err != nil {
			return err
		}
	}
	if cfg.sections["serving"] {
		progress("serving: %d rounds x %d requests, concurrency %d", cfg.rounds, cfg.requests, cfg.concurrency)
		if r.serving, err = measureServing(cfg, self, &raw); err != nil {
			return err
		}
	}
	if cfg.sections["coldstart"] {
		progress("coldstart: %d starts per server", cfg.starts)
		if r.coldstart, err = measureColdStart(cfg); err != nil {
			return err
		}
	}
	var md bytes.Buffer
	writeReport(&md, cfg, r, time.Since(started))
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if cfg.out != "" {
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		stamp := started.UTC().Format("20060102T150405Z")
		mdPath := filepath.Join(cfg.out, "report-"+stamp+".md")
		if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cfg.out, "raw-"+stamp+".jsonl"), raw.Bytes(), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		progress("wrote %s", mdPath)
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "report: "+format+"\n", args...)
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit: N=4096
// listeners are open in the parent and passed to each child.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return os.NewSyscallError("getrlimit", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return os.NewSyscallError("setrlimit", err)
	}
	return nil
}
