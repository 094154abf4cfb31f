//go:build linux

package main

import "golang.org/x/sys/unix"

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = true

// passCredentials asks for the sender's credentials on the notify socket,
// as systemd does.
func passCredentials(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
}
