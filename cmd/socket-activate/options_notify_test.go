//go:build unix

package main

import (
	"errors"
	"testing"
	"time"
)

func TestParseArgsReadsTheNotifyOptions(t *testing.T) {
	type notifyOptions struct {
		TimeoutStart, Watchdog time.Duration
		Access                 string
		StoreMax               int
	}
	tests := []struct {
		name string
		args []string
		want notifyOptions
	}{{
		name: "--notify alone has no timeouts, main access and a store of 256",
		args: []string{"--notify", "-l", "80", "prog"},
		want: notifyOptions{StoreMax: 256},
	}, {
		name: "time spans take units, fractions and sums",
		args: []string{"--notify", "--timeout-start-sec=1min 30s", "--watchdog-sec", "0.5", "-l", "80", "prog"},
		want: notifyOptions{TimeoutStart: 90 * time.Second, Watchdog: 500 * time.Millisecond, StoreMax: 256},
	}, {
		name: "0 and infinity mean no limit",
		args: []string{"--notify", "--timeout-start-sec=infinity", "--watchdog-sec=0", "-l", "80", "prog"},
		want: notifyOptions{StoreMax: 256},
	}, {
		name: "the last value wins",
		args: []string{"--notify", "--watchdog-sec=1s", "--watchdog-sec=300ms", "--notify-access=exec", "--notify-access=all", "-l", "80", "prog"},
		want: notifyOptions{Watchdog: 300 * time.Millisecond, Access: "all", StoreMax: 256},
	}, {
		name: "--fdstore-max=0 turns the store off",
		args: []string{"--fdstore-max=0", "--notify", "-l", "80", "prog"},
		want: notifyOptions{StoreMax: 0},
	}, {
		name: "--fdstore-max takes a count",
		args: []string{"--notify", "--fdstore-max", "4", "--now", "prog"},
		want: notifyOptions{StoreMax: 4},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args, func(string) string { return "" })
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			got := notifyOptions{o.timeoutStart, o.watchdog, o.notifyAccess, o.fdstoreMax}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("parseArgs(%q):\n%s", tt.args, d)
			}
		})
	}
}

func TestParseArgsRejectsBadNotifyOptions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"--timeout-start-sec without --notify", []string{"--timeout-start-sec=1s", "-l", "80", "prog"},
			"--timeout-start-sec needs --notify: it sets how socket-activate handles the program's notifications (see --help)"},
		{"--watchdog-sec without --notify", []string{"-l", "80", "--watchdog-sec", "1s", "prog"},
			"--watchdog-sec needs --notify: it sets how socket-activate handles the program's notifications (see --help)"},
		{"--notify-access without --notify", []string{"--notify-access=all", "-l", "80", "prog"},
			"--notify-access needs --notify: it sets how socket-activate handles the program's notifications (see --help)"},
		{"--fdstore-max without --notify", []string{"--fdstore-max=0", "-l", "80", "prog"},
			"--fdstore-max needs --notify: it sets how socket-activate handles the program's notifications (see --help)"},
		{"a time span that is no time span", []string{"--notify", "--watchdog-sec=soon", "-l", "80", "prog"},
			`bad value "soon" for --watchdog-sec: not a time span; want seconds, a span such as 500ms or 1min 30s, or infinity (see --help)`},
		{"a negative time span", []string{"--notify", "--timeout-start-sec=-1", "-l", "80", "prog"},
			`bad value "-1" for --timeout-start-sec: out of range; want seconds, a span such as 500ms or 1min 30s, or infinity (see --help)`},
		{"an empty time span", []string{"--notify", "--timeout-start-sec=", "-l", "80", "prog"},
			`bad value "" for --timeout-start-sec: not a time span; want seconds, a span such as 500ms or 1min 30s, or infinity (see --help)`},
		{"an unknown access", []string{"--notify", "--notify-access=none", "-l", "80", "prog"},
			`bad value "none" for --notify-access: want main, exec or all (see --help)`},
		{"a negative store size", []string{"--notify", "--fdstore-max=-1", "-l", "80", "prog"},
			`bad value "-1" for --fdstore-max: want a number of fds, 0 for no store (see --help)`},
		{"a store size with a unit", []string{"--notify", "--fdstore-max=4k", "-l", "80", "prog"},
			`bad value "4k" for --fdstore-max: want a number of fds, 0 for no store (see --help)`},
		{"--watchdog-sec at the end without a value", []string{"--notify", "-l", "80", "--watchdog-sec"},
			"option '--watchdog-sec' requires an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args, func(string) string { return "" })
			if err == nil || err.Error() != tt.want || !errors.Is(err, errUsage) {
				t.Errorf("parseArgs(%q) = %v, want %q wrapping errUsage", tt.args, err, tt.want)
			}
		})
	}
}
