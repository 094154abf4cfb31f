package notify

import (
	"strings"
	"testing"
	"time"
)

func TestWatchdogIntervalReadsTheEnvironmentAsSdWatchdogEnabled(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr string // a substring of the error; empty for none
	}{
		{"no WATCHDOG_USEC means no watchdog", map[string]string{}, 0, ""},
		{"WATCHDOG_PID alone means no watchdog", map[string]string{"WATCHDOG_PID": "4242"}, 0, ""},
		{"WATCHDOG_USEC alone is for us", map[string]string{"WATCHDOG_USEC": "30000000"}, 30 * time.Second, ""},
		{"WATCHDOG_USEC with our pid is for us", map[string]string{"WATCHDOG_USEC": "20000", "WATCHDOG_PID": "4242"}, 20 * time.Millisecond, ""},
		{"WATCHDOG_USEC with another pid is not for us", map[string]string{"WATCHDOG_USEC": "20000", "WATCHDOG_PID": "4243"}, 0, ""},
		{"our pid in hex is our pid", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "0x1092"}, time.Microsecond, ""},
		{"our pid with a leading zero is octal, so not ours", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "04242"}, 0, ""},
		{"WATCHDOG_USEC with white space and a plus is read", map[string]string{"WATCHDOG_USEC": " +5"}, 5 * time.Microsecond, ""},
		{"WATCHDOG_USEC of 0 is an error", map[string]string{"WATCHDOG_USEC": "0"}, 0, `invalid WATCHDOG_USEC "0"`},
		{"WATCHDOG_USEC of infinity is an error", map[string]string{"WATCHDOG_USEC": "18446744073709551615"}, 0, `invalid WATCHDOG_USEC "18446744073709551615"`},
		{"WATCHDOG_USEC beyond time.Duration is an error", map[string]string{"WATCHDOG_USEC": "18446744073709551614"}, 0, `invalid WATCHDOG_USEC "18446744073709551614"`},
		{"an empty WATCHDOG_USEC is an error", map[string]string{"WATCHDOG_USEC": ""}, 0, `invalid WATCHDOG_USEC ""`},
		{"a garbage WATCHDOG_USEC is an error", map[string]string{"WATCHDOG_USEC": "30s"}, 0, `invalid WATCHDOG_USEC "30s"`},
		{"a negative WATCHDOG_USEC is an error", map[string]string{"WATCHDOG_USEC": "-1"}, 0, `invalid WATCHDOG_USEC "-1"`},
		{"a garbage WATCHDOG_USEC is an error even for another pid", map[string]string{"WATCHDOG_USEC": "x", "WATCHDOG_PID": "1"}, 0, `invalid WATCHDOG_USEC "x"`},
		{"a garbage WATCHDOG_PID is an error", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "me"}, 0, `invalid WATCHDOG_PID "me"`},
		{"an empty WATCHDOG_PID is an error", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": ""}, 0, `invalid WATCHDOG_PID ""`},
		{"WATCHDOG_PID 0 is an error", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "0"}, 0, `invalid WATCHDOG_PID "0"`},
		{"a negative WATCHDOG_PID is an error", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "-1"}, 0, `invalid WATCHDOG_PID "-1"`},
		{"a WATCHDOG_PID beyond pid_t is an error", map[string]string{"WATCHDOG_USEC": "1", "WATCHDOG_PID": "2147483648"}, 0, `invalid WATCHDOG_PID "2147483648"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, err := watchdogInterval(lookup, pid)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || (tt.wantErr == "") != (err == nil) || !strings.Contains(gotErr, tt.wantErr) {
				t.Errorf("watchdogInterval(%v, %d):\n-want %v, error containing %q\n+got  %v, %v", tt.env, pid, tt.want, tt.wantErr, got, err)
			}
			if err != nil && !strings.HasPrefix(gotErr, "notify: ") {
				t.Errorf("error %q lacks the package prefix", gotErr)
			}
		})
	}
}
