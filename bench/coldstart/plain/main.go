// Command plain is the cold-start server without socket activation: it
// listens on -addr itself.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/go-activation/activation/bench/internal/hello"
)

func main() {
	addr := flag.String("addr", "", "TCP address to listen on, e.g. 127.0.0.1:8080")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "plain: -addr is required")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "plain:", hello.Serve(l))
	os.Exit(1)
}
