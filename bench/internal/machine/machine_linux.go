// Package machine describes where a benchmark ran, for the heading of its
// report.
package machine

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Describe returns the time of the run (UTC), the Go version and
// platform, the kernel, and the CPU model with the number of CPUs the
// process sees.
func Describe() (date, goVersion, kernel, cpu string) {
	date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	goVersion = runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	cpu += fmt.Sprintf(" (%d CPUs visible)", runtime.NumCPU())
	return date, goVersion, kernel, cpu
}

// utsString is a NUL-terminated Utsname field as a string; the field is
// int8 or uint8 depending on the architecture.
func utsString[T int8 | uint8](b []T) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
