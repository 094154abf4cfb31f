//go:build !unix

package activation

import (
	"errors"
	"net"
)

// The system calls the rest of the package makes on inherited fds, which
// are never reached here.

func unnamed(fd int, peer bool, a net.Addr) net.Addr { return a }

func socketBoundTo(sock, wantDev, wantIno uint64) (match, known bool) { return false, false }

func closeFD(int) error { return errors.ErrUnsupported }

func dupCloseOnExec(int) (int, error) { return -1, errors.ErrUnsupported }

// dupTakesForkLock: nothing is duplicated here.
const dupTakesForkLock = false

// haveDupOnto: this system has no dup3, so no carrier is used.
const haveDupOnto = false

func dupOnto(from, to int) error { return errors.ErrUnsupported }
