//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "handover: the measurements need Linux (/proc)")
	os.Exit(1)
}
