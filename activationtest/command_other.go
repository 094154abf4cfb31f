//go:build !unix

package activationtest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

func command(sockets []Socket, name string, args []string) (*exec.Cmd, error) {
	return nil, fmt.Errorf("activationtest: passing sockets to a child process is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
