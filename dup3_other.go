//go:build !(linux || freebsd || netbsd || openbsd || dragonfly)

package activation

import "errors"

// haveDupOnto: this system has no dup3, so no carrier is used.
const haveDupOnto = false

func dupOnto(from, to int) error { return errors.ErrUnsupported }
