//go:build !(darwin || dragonfly || freebsd || linux || openbsd || solaris)

package notify

import (
	"errors"
	"fmt"
	"runtime"
)

// monotonicMicroseconds fails: CLOCK_MONOTONIC cannot be read here.
func monotonicMicroseconds() (uint64, error) {
	return 0, fmt.Errorf("notify: reading CLOCK_MONOTONIC is unsupported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
