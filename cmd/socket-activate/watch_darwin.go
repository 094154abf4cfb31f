package main

import "golang.org/x/sys/unix"

// openEventsOnly opens a file only to watch it: it does not keep the
// volume it is on from being unmounted.
const openEventsOnly = unix.O_EVTONLY
