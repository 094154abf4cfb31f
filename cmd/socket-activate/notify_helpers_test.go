//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// notifyHelpers are the helper programs of the notification tests, by
// name (SA_TEST_HELPER). Unlike the others, they get LISTEN_PID
// unchecked: they report it, and the tests compare.
var notifyHelpers = map[string]func() error{
	"pids": reportPIDs,
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
// that name a pid, then waits for SIGTERM.
func reportPIDs() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	fmt.Printf("pid=%d ppid=%d LISTEN_PID=%s WATCHDOG_PID=%s WATCHDOG_USEC=%s\n", os.Getpid(), os.Getppid(),
		lookupOr("LISTEN_PID", "unset"), lookupOr("WATCHDOG_PID", "unset"), lookupOr("WATCHDOG_USEC", "unset"))
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
