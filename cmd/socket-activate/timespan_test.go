//go:build unix

package main

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timespanCorpus is what the time span tests read, with systemd's answer:
// microseconds, or "EINVAL" or "ERANGE".
var timespanCorpus = []struct{ text, want string }{
	{"5", "5000000"},
	{"1.5", "1500000"},
	{"1.5s", "1500000"},
	{"500ms", "500000"},
	{"2s", "2000000"},
	{"1min", "60000000"},
	{"1min 30s", "90000000"},
	{"1min30s", "90000000"},
	{"5 min", "300000000"},
	{" +5s", "5000000"},
	{"1 2", "3000000"},
	{"1 .5", "1500000"},
	{"1s.5", "1500000"},
	{".5", "500000"},
	{"5sec5", "10000000"},
	{"1.2345ms", "1234"},
	{"2 hours", "7200000000"},
	{"1h", "3600000000"},
	{"1d", "86400000000"},
	{"1w", "604800000000"},
	{"1M", "2629800000000"},
	{"1y", "31557600000000"},
	{"1m", "60000000"},
	{"1msec", "1000"},
	{"1us", "1"},
	{"1\u03bcs", "1"},
	{"1\u00b5s", "1"},
	{"0", "0"},
	{"0.0000001", "0"},
	{"infinity", "18446744073709551615"},
	{" infinity ", "18446744073709551615"},
	{"infinityx", "EINVAL"},
	{"", "EINVAL"},
	{"  ", "EINVAL"},
	{"+.5", "EINVAL"},
	{"3.", "EINVAL"},
	{"3.sec", "EINVAL"},
	{"1.2.3", "EINVAL"},
	{"1e3", "EINVAL"},
	{"0x10", "EINVAL"},
	{"s", "EINVAL"},
	{"\u03bcs", "EINVAL"},
	{"5 parsecs", "EINVAL"},
	{"-1", "ERANGE"},
	{"-0", "ERANGE"},
	{"1 -1", "ERANGE"},
	{"18446744073709551615", "ERANGE"},
	{"9223372036854775808", "ERANGE"},
	{"600000y", "ERANGE"},
}

func TestParseTimespanReadsWhatSystemdReads(t *testing.T) {
	for _, tt := range timespanCorpus {
		t.Run(strconv.Quote(tt.text)+" is "+tt.want, func(t *testing.T) {
			usec, err := parseTimespanUsec(tt.text)
			got := strconv.FormatUint(usec, 10)
			switch {
			case errors.Is(err, errTimespanSyntax):
				got = "EINVAL"
			case errors.Is(err, errTimespanRange):
				got = "ERANGE"
			case err != nil:
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("parseTimespanUsec(%q) = %s, want %s", tt.text, got, tt.want)
			}
		})
	}
}

// TestParseTimespanAgreesWithSystemdAnalyze runs the corpus through
// systemd-analyze timespan, systemd's own parser.
func TestParseTimespanAgreesWithSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze (Debian package systemd) is needed under CI")
		}
		t.Skip("systemd-analyze (Debian package systemd) is not installed")
	}
	usecRE := regexp.MustCompile(`(?m)^\s*μs: (\d+)$`)
	for _, tt := range timespanCorpus {
		out, err := exec.Command(analyze, "timespan", "--", tt.text).CombinedOutput()
		got := ""
		switch m := usecRE.FindSubmatch(out); {
		case m != nil && err == nil:
			got = string(m[1])
		case strings.Contains(string(out), "Invalid argument"):
			got = "EINVAL"
		case strings.Contains(string(out), "out of range"):
			got = "ERANGE"
		default:
			t.Fatalf("systemd-analyze timespan %q: %v\n%s", tt.text, err, out)
		}
		if got != tt.want {
			t.Errorf("systemd-analyze reads %q as %s; the corpus says %s", tt.text, got, tt.want)
		}
	}
}

func TestParseTimespanMakesADuration(t *testing.T) {
	tests := []struct {
		text string
		want time.Duration
		err  string
	}{
		{"300ms", 300 * time.Millisecond, ""},
		{"1min 30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{"infinity", 0, ""},
		{"292y", 292 * 31557600 * time.Second, ""},
		{"300y", 0, "out of range: at most 2562047h0m0s"},
		{"soon", 0, "not a time span"},
	}
	for _, tt := range tests {
		got, err := parseTimespan(tt.text)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("parseTimespan(%q) = %v, %q; want %v, %q", tt.text, got, gotErr, tt.want, tt.err)
		}
	}
}

// The wanted texts are what systemd-analyze timespan prints as "Human".
func TestFormatTimespanPrintsAsSystemd(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{time.Second, "1s"},
		{300 * time.Millisecond, "300ms"},
		{1500 * time.Millisecond, "1.500000s"},
		{1234 * time.Microsecond, "1.234ms"},
		{90 * time.Second, "1min 30s"},
		{time.Hour + 500*time.Millisecond, "1h 500ms"},
		{90*time.Second + 500*time.Millisecond, "1min 30.500000s"},
		{math.MaxInt64, "292y 3month 1w 16h 17min 16.854775s"},
	}
	for _, tt := range tests {
		if got := formatTimespan(tt.d); got != tt.want {
			t.Errorf("formatTimespan(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func FuzzParseTimespan(f *testing.F) {
	for _, tt := range timespanCorpus {
		f.Add(tt.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		usec, err := parseTimespanUsec(text)
		if err != nil {
			if !errors.Is(err, errTimespanSyntax) && !errors.Is(err, errTimespanRange) {
				t.Errorf("parseTimespanUsec(%q): unexpected error %v", text, err)
			}
			return
		}
		d, err := parseTimespan(text)
		if usec > math.MaxInt64/1000 {
			if usec != math.MaxUint64 && err == nil {
				t.Errorf("parseTimespan(%q) = %v, nil for %d µs", text, d, usec)
			}
			return
		}
		if err != nil || d != time.Duration(usec)*time.Microsecond {
			t.Fatalf("parseTimespan(%q) = %v, %v; parseTimespanUsec says %d µs", text, d, err, usec)
		}
		// What formatTimespan prints reads back as the same span.
		back, err := parseTimespanUsec(formatTimespan(d))
		if err != nil || back != usec {
			t.Errorf("%q is %d µs, printed %q, read back as %d µs, %v", text, usec, formatTimespan(d), back, err)
		}
	})
}
