//go:build !unix

package activationtest_test

import (
	"errors"
	"testing"

	"github.com/go-activation/activation/activationtest"
)

func TestCommandIsUnsupported(t *testing.T) {
	_, err := activationtest.Command(nil, "server")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Command: got error %v, want errors.ErrUnsupported", err)
	}
}
