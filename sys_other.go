//go:build !unix

package activation

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// The environment is never parsed here; these only complete the parser.
var (
	errnoInvalid = errors.New("invalid argument")
	errnoRange   = errors.New("out of range")
)

// On systems without Unix fd passing nothing is ever inherited.

func processEnviron() environ { return environ{} }

func inherit(environ) ([]inheritedFD, error) { return nil, nil }

func describe(*inheritedFD) {}

func markCloseOnExec(int) {}

func holdForks() {}

func releaseForks() {}

type (
	fileID struct{ dev, ino uint64 }
	sockID uint64
)

func fileOf(string) (fileID, error) { return fileID{}, errors.ErrUnsupported }

func unixSockID(int) sockID { return 0 }

func isV6Only(int) bool { return false }

func socketBoundTo(sockID, fileID) (match, known bool) { return false, false }

func unnamed(fd int, peer bool, a net.Addr) net.Addr { return a }

func closeFD(int) error { return errors.ErrUnsupported }

// haveDupOnto: this system has no dup3, so no carrier is used.
const haveDupOnto = false

func dupOnto(from, to int) error { return errors.ErrUnsupported }

func stdinInfo() (Info, error) {
	return Info{}, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}

func takeStdin[T io.Closer](func(*inheritedFD) bool, converter[T], string) (T, error) {
	var zero T
	return zero, fmt.Errorf("activation: standard input as a socket: %w", errors.ErrUnsupported)
}

func dupCloseOnExec(int) (int, error) { return -1, errors.ErrUnsupported }
