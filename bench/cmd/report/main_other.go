//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "report: the measurements need Linux (/proc, strace, systemd-socket-activate)")
	os.Exit(1)
}
