//go:build !unix

package activation

import (
	"errors"
	"net"
	"os"
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

func parkedFile(e *inheritedFD) (*os.File, error) {
	return nil, errors.New("activation: nothing is inherited on this system")
}

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
