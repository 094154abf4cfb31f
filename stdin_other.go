//go:build !unix

package activation

import (
	"errors"
	"fmt"
	"io"
)

func stdinInfo() (Info, error) {
	return Info{}, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}

func takeStdin[T io.Closer](func(*inheritedFD) bool, converter[T], string) (T, error) {
	var zero T
	return zero, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}
