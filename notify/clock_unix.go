//go:build darwin || dragonfly || freebsd || linux || openbsd || solaris

package notify

import (
	"os"

	"golang.org/x/sys/unix"
)

// monotonicMicroseconds reads CLOCK_MONOTONIC, the clock systemd compares
// MONOTONIC_USEC= with.
func monotonicMicroseconds() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, os.NewSyscallError("clock_gettime", err)
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3, nil
}
