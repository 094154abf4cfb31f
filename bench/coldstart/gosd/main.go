// Command gosd is the cold-start server that takes its listener from
// github.com/coreos/go-systemd/v22/activation. Run it under a socket
// activator with exactly one listening socket.
package main

import (
	"fmt"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/go-activation/activation/bench/internal/hello"
)

func main() {
	ls, err := activation.Listeners()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosd:", err)
		os.Exit(1)
	}
	if len(ls) != 1 || ls[0] == nil {
		fmt.Fprintf(os.Stderr, "gosd: want 1 inherited listener, got %v\n", ls)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gosd:", hello.Serve(ls[0]))
	os.Exit(1)
}
