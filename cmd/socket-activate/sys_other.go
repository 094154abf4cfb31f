//go:build unix && !linux

package main

import "syscall"

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = false

// unixPeerCred returns "n/a": which process is the peer of a unix
// connection is told here only on Linux, where systemd-socket-activate
// prints it.
func unixPeerCred(fd int) string { return "n/a" }

// moreCaught are the signals socket-activate catches on this system
// besides those of every unix: none.
var moreCaught []syscall.Signal
