//go:build linux

package main

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = true

// unixPeerCred returns the process and user of the peer of the unix
// connection fd, as systemd-socket-activate prints them.
func unixPeerCred(fd int) string {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return "n/a"
	}
	return fmt.Sprintf("PID %d/UID %d", cred.Pid, cred.Uid)
}

// moreCaught are the signals socket-activate catches on this system
// besides those of every unix: Linux's SIGPWR, which would end
// systemd-socket-activate.
var moreCaught = []syscall.Signal{unix.SIGPWR}
