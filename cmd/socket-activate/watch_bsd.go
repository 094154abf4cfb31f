//go:build dragonfly || freebsd || netbsd || openbsd

package main

// openEventsOnly is O_EVTONLY where there is one: not here.
const openEventsOnly = 0
