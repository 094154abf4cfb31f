//go:build !unix

package notify

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// transmit fails: there are no Unix domain sockets to send on here.
func transmit(a address, _ []byte, _ []*os.File) error {
	return checkSupported(a)
}

// checkSupported fails: there are no Unix domain sockets to send on here.
func checkSupported(address) error {
	return fmt.Errorf("notify: NOTIFY_SOCKET is set, but notifying is unsupported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// closed reports false: nothing is sent here, so no file is looked at.
func closed(*os.File) bool { return false }
