package notify

import "github.com/go-activation/activation/internal/sdnum"

// Numbers in the environment (WATCHDOG_USEC, WATCHDOG_PID) and in vsock
// addresses are read the way systemd reads them (see package sdnum).
var errRange = sdnum.ErrRange

// parseUint reads s as systemd's safe_atou64 does and checks that the value
// fits in bits bits.
func parseUint(s string, bits int) (uint64, error) { return sdnum.ParseUint(s, bits) }
