//go:build unix

package main

import (
	"os"
	"syscall"
)

// systemd stops a service with SIGTERM; Type=notify-reload and the usual
// ExecReload= send SIGHUP.
var (
	stopSignals   = []os.Signal{syscall.SIGTERM, os.Interrupt}
	reloadSignals = []os.Signal{syscall.SIGHUP}
)
