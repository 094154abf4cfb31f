//go:build !unix

package activation_test

import (
	"errors"
	"testing"

	"github.com/go-activation/activation"
)

// Where fds cannot be passed, nothing is inherited and Listen listens.
func TestNothingIsInheritedWithoutUnix(t *testing.T) {
	if ls, err := activation.Listeners(); ls != nil || err != nil {
		t.Errorf("Listeners() = %v, %v; want nil, nil", ls, err)
	}
	if fs, err := activation.Files(); fs != nil || err != nil {
		t.Errorf("Files() = %v, %v; want nil, nil", fs, err)
	}
	if _, err := activation.Listen("tcp", "sd-listen:web"); err == nil {
		t.Error("Listen(tcp, sd-listen:web) succeeded with nothing inherited")
	}
	if _, err := activation.StdinConn(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("StdinConn() error %v, want one wrapping errors.ErrUnsupported", err)
	}
	if _, err := activation.Listen("tcp", "fd:0"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Listen(tcp, fd:0) error %v, want one wrapping errors.ErrUnsupported", err)
	}
}
