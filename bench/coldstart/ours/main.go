// Command ours is the cold-start server that takes its listener from
// github.com/go-activation/activation. Run it under a socket activator
// with exactly one listening socket.
package main

import (
	"fmt"
	"os"

	"github.com/go-activation/activation"
	"github.com/go-activation/activation/bench/internal/hello"
)

func main() {
	ls, err := activation.Listeners()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ours:", err)
		os.Exit(1)
	}
	if len(ls) != 1 {
		fmt.Fprintf(os.Stderr, "ours: want 1 inherited listener, got %d\n", len(ls))
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "ours:", hello.Serve(ls[0]))
	os.Exit(1)
}
