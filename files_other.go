//go:build !unix

package activation

import (
	"errors"
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
