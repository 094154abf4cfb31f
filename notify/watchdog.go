package notify

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/go-activation/activation/internal/sdnum"
)

// WatchdogEnabled reports the watchdog interval the manager expects pings
// within (WatchdogSec= in the unit), read from WATCHDOG_USEC and WATCHDOG_PID
// as sd_watchdog_enabled(3) reads them. It returns 0 and a nil error when
// WATCHDOG_USEC is unset, or when WATCHDOG_PID is set and names another
// process. A value that does not parse, a WATCHDOG_USEC of 0 or of
// 18446744073709551615 (infinity), and a WATCHDOG_PID that is not a positive
// pid are errors naming the variable. The variables are left in the
// environment.
//
// Ping with [Watchdog] at least once per interval; half the interval is the
// usual choice (see [WatchdogLoop]).
func WatchdogEnabled() (time.Duration, error) {
	return watchdogInterval(os.LookupEnv, os.Getpid())
}

// watchdogInterval is WatchdogEnabled for a given environment and pid.
func watchdogInterval(lookupEnv func(string) (string, bool), pid int) (time.Duration, error) {
	usecText, ok := lookupEnv("WATCHDOG_USEC")
	if !ok {
		return 0, nil
	}
	usec, err := sdnum.ParseUint(usecText, 64)
	if err != nil {
		return 0, fmt.Errorf("notify: invalid WATCHDOG_USEC %q: %w", usecText, err)
	}
	if usec == 0 || usec == math.MaxUint64 {
		return 0, fmt.Errorf("notify: invalid WATCHDOG_USEC %q: want a finite number of microseconds above 0", usecText)
	}
	if usec > math.MaxInt64/uint64(time.Microsecond) {
		return 0, fmt.Errorf("notify: invalid WATCHDOG_USEC %q: %w for a time.Duration", usecText, sdnum.ErrRange)
	}
	if pidText, ok := lookupEnv("WATCHDOG_PID"); ok {
		// systemd's parse_pid: an unsigned long that fits a pid_t, above 0.
		p, err := sdnum.ParseUint(pidText, 64)
		if err == nil && (p == 0 || p > math.MaxInt32) {
			err = sdnum.ErrRange
		}
		if err != nil {
			return 0, fmt.Errorf("notify: invalid WATCHDOG_PID %q: %w", pidText, err)
		}
		if int(p) != pid {
			return 0, nil
		}
	}
	return time.Duration(usec) * time.Microsecond, nil
}

// WatchdogLoop pings the watchdog ([Watchdog]) at once and then every half
// interval reported by [WatchdogEnabled], until ctx is done; then it returns
// nil. It returns nil at once when the watchdog is not enabled for this
// process or the process is not supervised, and returns an error when the
// environment is malformed or a ping cannot be sent. Run it in its own
// goroutine:
//
//	go notify.WatchdogLoop(ctx)
//
// Pinging from a goroutine of its own only shows that the process is alive;
// a service that wants the watchdog to catch a stuck main loop pings from that
// loop instead.
func WatchdogLoop(ctx context.Context) error {
	interval, err := WatchdogEnabled()
	if err != nil || interval == 0 {
		return err
	}
	ticker := time.NewTicker(interval / 2) // at least 500ns: interval counts whole microseconds
	defer ticker.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		sent, err := Watchdog()
		if err != nil || !sent {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
