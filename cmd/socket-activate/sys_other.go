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

// diesOfAnySignal: a Go program dies here only of SIGHUP, SIGINT, SIGTERM
// and SIGKILL; for another signal socket-activate exits with 128 plus its
// number.
const diesOfAnySignal = false

// raiseDefault reports false: the action of a signal cannot be set back to
// the default behind the Go runtime here.
func raiseDefault(syscall.Signal) bool { return false }
