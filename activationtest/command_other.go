//go:build !unix

package activationtest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// maxSocketPath is the longest path a unix socket can be bound to on
// Windows, which alone of these systems has them (sun_path less its NUL).
const maxSocketPath = 107

func command(sockets []Socket, name string, args []string) (*exec.Cmd, error) {
	return nil, fmt.Errorf("activationtest: passing sockets to a child process is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
