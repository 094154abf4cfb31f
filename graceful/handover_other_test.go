//go:build !unix

package graceful_test

import "fmt"

// runHelper: no test starts a helper where sockets cannot be passed.
func runHelper(name string) error { return fmt.Errorf("no helper %q", name) }
