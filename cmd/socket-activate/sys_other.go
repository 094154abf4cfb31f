//go:build unix && !linux

package main

// abstractSockets tells whether unix socket names starting with "@" are
// abstract: on Linux only.
const abstractSockets = false

// unixPeerCred returns "n/a": which process is the peer of a unix
// connection is told here only on Linux, where systemd-socket-activate
// prints it.
func unixPeerCred(fd int) string { return "n/a" }
