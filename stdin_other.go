//go:build !unix

package activation

import (
	"errors"
	"fmt"
	"io"
)

// Standard input is not taken as a socket where fds are not passed.

func stdinInfo() (Info, error) {
	return Info{}, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}

func takeStdin[T io.Closer](conversion[T]) (T, error) {
	var zero T
	return zero, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}
