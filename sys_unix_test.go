//go:build unix && !linux

package activation_test

import "os"

// setPidfdID sets an id that cannot be checked: there are no pidfds here.
func setPidfdID(other bool) {
	if other {
		os.Setenv("LISTEN_PIDFDID", "12346")
		return
	}
	os.Setenv("LISTEN_PIDFDID", "12345")
}
