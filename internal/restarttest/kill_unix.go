//go:build unix

package restarttest

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminate is the signal that asks a process to stop.
var terminate os.Signal = syscall.SIGTERM

// killGroup kills pid, and the process group it leads if it leads one
// (socket-activate's programs stay in its group), if pid still runs
// program: a pid that exited may be in use again. Where /proc is missing
// it cannot tell, and leaves pid alone.
func killGroup(pid int, program string) {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return
	}
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 == program {
		if pgid, err := unix.Getpgid(pid); err == nil && pgid == pid {
			unix.Kill(-pid, unix.SIGKILL)
		}
		unix.Kill(pid, unix.SIGKILL)
	}
}
