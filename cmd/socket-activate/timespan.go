//go:build unix

package main

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// The microseconds in one of each unit of a time span, as systemd counts
// them (a month is 30.44 days, a year 365.25 days).
const (
	usecPerMsec   = 1000
	usecPerSec    = 1000 * usecPerMsec
	usecPerMinute = 60 * usecPerSec
	usecPerHour   = 60 * usecPerMinute
	usecPerDay    = 24 * usecPerHour
	usecPerWeek   = 7 * usecPerDay
	usecPerMonth  = 2629800 * usecPerSec
	usecPerYear   = 31557600 * usecPerSec
)

// timeUnits are the units a time span may use, in the order systemd's
// parse_sec tries them: the first that prefixes the text wins.
var timeUnits = []struct {
	suffix string
	usec   uint64
}{
	{"seconds", usecPerSec}, {"second", usecPerSec}, {"sec", usecPerSec}, {"s", usecPerSec},
	{"minutes", usecPerMinute}, {"minute", usecPerMinute}, {"min", usecPerMinute},
	{"months", usecPerMonth}, {"month", usecPerMonth}, {"M", usecPerMonth},
	{"msec", usecPerMsec}, {"ms", usecPerMsec}, {"m", usecPerMinute},
	{"hours", usecPerHour}, {"hour", usecPerHour}, {"hr", usecPerHour}, {"h", usecPerHour},
	{"days", usecPerDay}, {"day", usecPerDay}, {"d", usecPerDay},
	{"weeks", usecPerWeek}, {"week", usecPerWeek}, {"w", usecPerWeek},
	{"years", usecPerYear}, {"year", usecPerYear}, {"y", usecPerYear},
	{"usec", 1}, {"us", 1}, {"\u03bcs", 1}, {"\u00b5s", 1},
}

// The ways a time span can be wrong, as systemd's EINVAL and ERANGE.
var (
	errTimespanSyntax = errors.New("not a time span")
	errTimespanRange  = errors.New("out of range")
)

// timespanSpace is the white space systemd skips in a time span.
const timespanSpace = " \t\n\r"

// parseTimespan reads a time span the way systemd reads TimeoutStartSec=
// and WatchdogSec= (parse_sec): one or more numbers, each with an optional
// fraction and unit (seconds without one), added up ("1min 30s",
// "1.5s", "500ms", "2"), or "infinity". It returns 0 for "infinity" and for
// a span of 0, which both mean no limit, and refuses a span longer than a
// time.Duration holds (about 292 years).
func parseTimespan(s string) (time.Duration, error) {
	usec, err := parseTimespanUsec(s)
	switch {
	case err != nil:
		return 0, err
	case usec == math.MaxUint64:
		return 0, nil
	case usec > math.MaxInt64/uint64(time.Microsecond):
		return 0, fmt.Errorf("%w: at most %v", errTimespanRange, time.Duration(math.MaxInt64).Truncate(time.Hour))
	}
	return time.Duration(usec) * time.Microsecond, nil
}

// parseTimespanUsec is systemd's parse_sec: the span in microseconds,
// math.MaxUint64 for "infinity".
func parseTimespanUsec(s string) (uint64, error) {
	p := strings.TrimLeft(s, timespanSpace)
	if rest, ok := strings.CutPrefix(p, "infinity"); ok {
		if strings.Trim(rest, timespanSpace) != "" {
			return 0, errTimespanSyntax
		}
		return math.MaxUint64, nil
	}
	var usec uint64
	for something := false; ; something = true {
		p = strings.TrimLeft(p, timespanSpace)
		if p == "" {
			if !something {
				return 0, errTimespanSyntax
			}
			return usec, nil
		}
		if p[0] == '-' {
			return 0, errTimespanRange
		}
		// The whole part, as strtoll reads it: a '+' and decimal digits.
		digits := strings.TrimPrefix(p, "+")
		n := len(digits) - len(strings.TrimLeft(digits, "0123456789"))
		whole, fraction := uint64(0), ""
		if n == 0 {
			digits = p // no number: strtoll ends where it began
		}
		for _, c := range digits[:n] {
			if whole > (math.MaxInt64-uint64(c-'0'))/10 {
				return 0, errTimespanRange
			}
			whole = whole*10 + uint64(c-'0')
		}
		rest := digits[n:]
		switch {
		case strings.HasPrefix(rest, "."):
			fraction = rest[1:]
			fraction = fraction[:len(fraction)-len(strings.TrimLeft(fraction, "0123456789"))]
			p = rest[1+len(fraction):]
		case n == 0:
			return 0, errTimespanSyntax
		default:
			p = rest
		}
		multiplier, after := uint64(usecPerSec), strings.TrimLeft(p, timespanSpace)
		unitFound := false
		for _, u := range timeUnits {
			if r, ok := strings.CutPrefix(after, u.suffix); ok {
				multiplier, after, unitFound = u.usec, r, true
				break
			}
		}
		if !unitFound && len(after) == len(p) && after != "" {
			// A number followed at once by something that is no unit:
			// "12.34.56", "1e3".
			return 0, errTimespanSyntax
		}
		p = after
		if whole >= math.MaxUint64/multiplier {
			return 0, errTimespanRange
		}
		k := whole * multiplier
		if k >= math.MaxUint64-usec {
			return 0, errTimespanRange
		}
		usec += k
		if strings.HasPrefix(rest, ".") {
			if fraction == "" {
				return 0, errTimespanSyntax // "3.", "3.sec"
			}
			m := multiplier / 10
			for _, c := range fraction {
				k := uint64(c-'0') * m
				if k >= math.MaxUint64-usec {
					return 0, errTimespanRange
				}
				usec += k
				m /= 10
			}
		}
	}
}

// formatTimespan prints d as systemd's format_timespan does to the
// microsecond: "500ms", "1min 30s", "1.500000s".
func formatTimespan(d time.Duration) string {
	t := uint64(d / time.Microsecond)
	if t == 0 {
		return "0"
	}
	units := []struct {
		suffix string
		usec   uint64
	}{
		{"y", usecPerYear}, {"month", usecPerMonth}, {"w", usecPerWeek}, {"d", usecPerDay},
		{"h", usecPerHour}, {"min", usecPerMinute}, {"s", usecPerSec}, {"ms", usecPerMsec}, {"us", 1},
	}
	var parts []string
	for _, u := range units {
		if t == 0 {
			break
		}
		if t < u.usec {
			continue
		}
		a, b := t/u.usec, t%u.usec
		if t < usecPerMinute && b > 0 {
			// Below a minute, the rest goes after a decimal point.
			width := 0
			for c := u.usec; c > 1; c /= 10 {
				width++
			}
			if width > 0 {
				parts = append(parts, fmt.Sprintf("%d.%0*d%s", a, width, b, u.suffix))
				break
			}
		}
		parts = append(parts, fmt.Sprintf("%d%s", a, u.suffix))
		t = b
	}
	return strings.Join(parts, " ")
}
