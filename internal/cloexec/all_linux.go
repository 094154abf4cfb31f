package cloexec

import (
	"math"

	"golang.org/x/sys/unix"
)

// markAll marks every open fd of first … last with one close_range(2),
// and reports false where the kernel is older than 5.11.
func markAll(first, last int) bool {
	// The kernel's fd numbers are unsigned ints.
	end := uint(min(uint64(last), math.MaxUint32))
	return unix.CloseRange(uint(first), end, unix.CLOSE_RANGE_CLOEXEC) == nil
}
