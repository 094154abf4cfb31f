//go:build unix

package main

import (
	"math"

	"github.com/go-activation/activation/internal/cloexec"
)

// markInheritedCloseOnExec marks every fd from 3 up close-on-exec, so that
// an fd this process inherited (7</etc/hostname from a shell, say) reaches
// no program it starts: a program gets stdin, stdout, stderr and the fds
// passed to it explicitly, nothing else. Fds this process opens are
// close-on-exec already, and fds it passes on are duplicated into place
// as the program starts, so marking them does no harm.
func markInheritedCloseOnExec() {
	cloexec.MarkRange(3, math.MaxInt)
}
