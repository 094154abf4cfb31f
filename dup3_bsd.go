//go:build freebsd || netbsd || openbsd || dragonfly

package activation

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveDupOnto: this system has dup3, which dupOnto needs.
const haveDupOnto = true

// dupOnto makes fd to a close-on-exec duplicate of from, closing what to
// held, in one system call.
func dupOnto(from, to int) error {
	return os.NewSyscallError("dup3", unix.Dup3(from, to, unix.O_CLOEXEC))
}
