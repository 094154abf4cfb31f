//go:build !unix

package notify

import (
	"errors"
	"testing"
)

func TestEveryCallReportsUnsupportedWhenSupervised(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	for _, c := range everyCall(t, openDevNull(t)) {
		t.Run(c.name+" says notifying is unsupported", func(t *testing.T) {
			sent, err := c.do()
			if sent || !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("%s() = %v, %v; want false and errors.ErrUnsupported", c.name, sent, err)
			}
		})
	}
}
