//go:build !unix

package restarttest

import "os"

// terminate is the signal that asks a process to stop: without SIGTERM,
// os.Kill.
var terminate = os.Kill

// killGroup does nothing: socket-activate, which leaves programs behind
// only when it dies, runs on unix only.
func killGroup(pid int, program string) {}
