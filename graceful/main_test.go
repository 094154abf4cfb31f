package graceful_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-activation/activation/activationtest"
)

// The test binary doubles as the process that takes connections back (see
// runHelper).
func TestMain(m *testing.M) {
	helper := activationtest.HelperName()
	if helper == "" {
		os.Exit(m.Run())
	}
	if err := runHelper(helper); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", helper, err)
		os.Exit(1)
	}
	os.Exit(0)
}
