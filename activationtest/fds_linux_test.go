package activationtest_test

import (
	"os"
	"testing"
)

// openFDs returns the process's open fds, each mapped to what it refers to
// ("socket:[123]", a path, …).
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := make(map[string]string, len(entries))
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the fd that read the directory, closed since
		}
		fds[e.Name()] = target
	}
	return fds
}
