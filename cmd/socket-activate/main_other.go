//go:build !unix

package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "socket-activate: not supported on %s\n", runtime.GOOS)
	os.Exit(1)
}
