//go:build !unix

package activation

import "errors"

// The environment is never parsed here; these only complete the parser.
var (
	errnoInvalid = errors.New("invalid argument")
	errnoRange   = errors.New("out of range")
)

// On systems without Unix fd passing nothing is ever inherited.

func processEnviron() environ { return environ{} }

func inherit(environ) ([]inheritedFD, error) { return nil, nil }

func describe(*inheritedFD) {}
