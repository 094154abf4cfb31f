//go:build !unix

package activation_test

import (
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
}
