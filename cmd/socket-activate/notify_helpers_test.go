//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdnotify "github.com/go-activation/activation/notify"
)

const (
	scriptEnv  = "SA_TEST_SCRIPT"  // what "notify-script" does; SA_TEST_SCRIPT_2 for its second run
	messageEnv = "SA_TEST_MESSAGE" // what "notify-send" sends
)

// notifyHelpers are the helper programs of the notification tests, by
// name (SA_TEST_HELPER). Unlike the others, they get LISTEN_PID
// unchecked: they report it, and the tests compare.
var notifyHelpers = map[string]func() error{
	"pids":          reportPIDs,
	"notify-script": notifyScript,
	"notify-send":   func() error { return send(strings.ReplaceAll(os.Getenv(messageEnv), `\n`, "\n")) },
}

// runHelper runs h as helper name and returns its exit status.
func runHelper(name string, h func() error) int {
	if err := h(); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 98
	}
	return 0
}

// reportPIDs prints the program's pid, its parent's and the variables
// that name a pid or that --notify sets, then waits for SIGTERM.
func reportPIDs() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	_, notifySocket := os.LookupEnv("NOTIFY_SOCKET")
	fmt.Printf("pid=%d ppid=%d LISTEN_PID=%s WATCHDOG_PID=%s WATCHDOG_USEC=%s FDSTORE=%s NOTIFY_SOCKET set: %v\n", os.Getpid(), os.Getppid(),
		lookupOr("LISTEN_PID", "unset"), lookupOr("WATCHDOG_PID", "unset"), lookupOr("WATCHDOG_USEC", "unset"), lookupOr("FDSTORE", "unset"), notifySocket)
	<-sigs
	return nil
}

// lookupOr returns the variable key, or def when it is unset.
func lookupOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// send sends msg with the notify package, failing if it was not sent.
func send(msg string) error {
	ok, err := sdnotify.Send(msg)
	if err == nil && !ok {
		err = fmt.Errorf("%q not sent: NOTIFY_SOCKET is unset", msg)
	}
	return err
}

// notifyScript runs the steps of SA_TEST_SCRIPT_<run> (SA_TEST_SCRIPT when
// that is unset), separated by ";", each VERB or VERB:ARG, with the
// project's notify package:
//
//	send:MSG        sdnotify.Send(MSG), with \n for newlines
//	ready           sdnotify.Ready()
//	status:TEXT     sdnotify.Status(TEXT)
//	reloading       sdnotify.Reloading()
//	stopping        sdnotify.Stopping()
//	errno:N         sdnotify.Errno(N)
//	extend:DUR      sdnotify.ExtendTimeout(DUR)
//	trigger         sdnotify.WatchdogTrigger()
//	barrier         sdnotify.Barrier with a 10 s timeout; prints "barrier: ERR"
//	watchdog:DUR    sdnotify.WatchdogLoop for DUR, then no more pings
//	watchdog        sdnotify.WatchdogLoop until the program ends
//	child:MSG       runs a child process that sends MSG; prints "child PID of PID sent MSG"
//	env             prints "run N: pid=self WATCHDOG_PID=… WATCHDOG_USEC=…" (self: this pid)
//	sleep:DUR       sleeps
//	say:TEXT        prints TEXT
//	block           waits for SIGTERM, then exits 0
//	drain:DUR       waits for SIGTERM, then stops its watchdog pings, takes
//	                DUR (a slow stop), prints "run N drained" and exits 0
//
// On SIGABRT it prints "got SIGABRT" and exits with status 134.
//
// The run counts in the SA_TEST_STATE file, when set.
func notifyScript() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	// The watchdog's signal, said on stdout instead of a stack dump.
	abort := make(chan os.Signal, 1)
	signal.Notify(abort, syscall.SIGABRT)
	go func() {
		<-abort
		fmt.Println("got SIGABRT")
		os.Exit(128 + int(syscall.SIGABRT))
	}()
	run := 1
	if os.Getenv(stateEnv) != "" {
		var err error
		if run, _, err = nextRun(); err != nil {
			return err
		}
	}
	script, ok := os.LookupEnv(scriptEnv + "_" + strconv.Itoa(run))
	if !ok {
		script = os.Getenv(scriptEnv)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	for _, step := range strings.Split(script, ";") {
		verb, arg, _ := strings.Cut(step, ":")
		var err error
		switch verb {
		case "send":
			err = send(strings.ReplaceAll(arg, `\n`, "\n"))
		case "ready":
			err = sent(sdnotify.Ready())
		case "status":
			err = sent(sdnotify.Status(arg))
		case "reloading":
			err = sent(sdnotify.Reloading())
		case "stopping":
			err = sent(sdnotify.Stopping())
		case "errno":
			var e int
			if e, err = strconv.Atoi(arg); err == nil {
				err = sent(sdnotify.Errno(e))
			}
		case "extend":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				err = sent(sdnotify.ExtendTimeout(d))
			}
		case "trigger":
			err = sent(sdnotify.WatchdogTrigger())
		case "barrier":
			bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, berr := sdnotify.Barrier(bctx)
			cancel()
			fmt.Printf("barrier: %v\n", berr)
		case "watchdog":
			if arg == "" {
				go sdnotify.WatchdogLoop(ctx)
				break
			}
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				wctx, cancel := context.WithTimeout(ctx, d)
				err = sdnotify.WatchdogLoop(wctx)
				cancel()
			}
		case "child":
			err = childSends(arg)
		case "env":
			fmt.Printf("run %d: pid=self WATCHDOG_PID=%s WATCHDOG_USEC=%s\n", run,
				strings.Replace(lookupOr("WATCHDOG_PID", "unset"), strconv.Itoa(os.Getpid()), "self", 1), lookupOr("WATCHDOG_USEC", "unset"))
		case "sleep":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				time.Sleep(d)
			}
		case "say":
			fmt.Println(arg)
		case "block":
			<-sigs
			return nil
		case "drain":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err != nil {
				break
			}
			<-sigs
			stop()
			time.Sleep(d)
			fmt.Printf("run %d drained\n", run)
			return nil
		default:
			err = fmt.Errorf("unknown step %q", step)
		}
		if err != nil {
			return fmt.Errorf("run %d, step %q: %w", run, step, err)
		}
	}
	return nil
}

// sent turns a notify call's result into an error when nothing was sent.
func sent(ok bool, err error) error {
	if err == nil && !ok {
		err = fmt.Errorf("not sent: NOTIFY_SOCKET is unset")
	}
	return err
}

// childSends runs this program again as a child process that sends msg
// and exits, and prints the child's pid.
func childSends(msg string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=notify-send", messageEnv+"="+msg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	err = cmd.Wait()
	fmt.Printf("child %d of %d sent %s\n", cmd.Process.Pid, os.Getpid(), msg)
	return err
}
