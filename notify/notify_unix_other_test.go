//go:build unix && !linux

package notify

import (
	"errors"
	"testing"
)

func TestLinuxOnlyAddressesAreUnsupported(t *testing.T) {
	for _, value := range []string{"@notify", "vsock:2:1", "vsock-stream:2:1"} {
		t.Run(value+" is unsupported outside linux", func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", value)
			sent, err := Ready()
			if sent || !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Ready() = %v, %v; want false and errors.ErrUnsupported", sent, err)
			}
		})
	}
}
