//go:build linux

package main

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = true

// markAllCloseOnExec marks every fd from 3 up close-on-exec with one
// close_range(2), and reports false where the kernel is older than 5.11.
func markAllCloseOnExec() bool {
	return unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil
}

// unixPeerCred returns the process and user of the peer of the unix
// connection fd, as systemd-socket-activate prints them.
func unixPeerCred(fd int) string {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return "n/a"
	}
	return fmt.Sprintf("PID %d/UID %d", cred.Pid, cred.Uid)
}
