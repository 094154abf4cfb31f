// Command probe is the server the conformance tests run under
// systemd-socket-activate. It takes every inherited socket through package
// activation and answers each connection, and each datagram, with a report
// of what it inherited:
//
//	pid 1234
//	fd 3 "web" tcp listening=true local=127.0.0.1:8080 remote=- claimed=true
//	env CONFORMANCE_GREETING=hello
//
// The env lines list the variables named CONFORMANCE_* or LISTEN_*, sorted.
// With -accept it serves the connections of an Accept=yes activation once
// each and exits. When the package returns an error, probe answers the
// first connection on fd 3 with "error: " and the error, and exits with
// status 1.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/go-activation/activation"
)

func main() {
	accept := flag.Bool("accept", false, "serve the connections passed by an Accept=yes activation, once each, and exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("probe: ")

	if *accept {
		conns, err := activation.Conns()
		if err != nil {
			fail(err)
		}
		if len(conns) == 0 {
			fail(fmt.Errorf("no connection inherited"))
		}
		report, err := describe()
		if err != nil {
			fail(err)
		}
		for _, c := range conns {
			c.Write([]byte(report))
			c.Close()
		}
		return
	}

	listeners, err := activation.Listeners()
	if err != nil {
		fail(err)
	}
	packetConns, err := activation.PacketConns()
	if err != nil {
		fail(err)
	}
	if len(listeners)+len(packetConns) == 0 {
		fail(fmt.Errorf("no socket inherited"))
	}
	report, err := describe()
	if err != nil {
		fail(err)
	}
	for _, l := range listeners {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					log.Fatal(err)
				}
				go func() {
					c.Write([]byte(report))
					c.Close()
				}()
			}
		}()
	}
	for _, pc := range packetConns {
		go func() {
			buf := make([]byte, 64<<10)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					log.Fatal(err)
				}
				if _, err := pc.WriteTo([]byte(report), from); err != nil {
					log.Print(err)
				}
			}
		}()
	}
	select {}
}

// describe writes the report.
func describe() (string, error) {
	infos, err := activation.Inherited()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d\n", os.Getpid())
	for _, i := range infos {
		remote := "-"
		if i.RemoteAddr != nil {
			remote = i.RemoteAddr.String()
		}
		fmt.Fprintf(&b, "fd %d %q %s listening=%t local=%s remote=%s claimed=%t\n",
			i.FD, i.Name, i.Network, i.Listening, i.LocalAddr, remote, i.Claimed)
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONFORMANCE_") || strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	for _, kv := range env {
		fmt.Fprintf(&b, "env %s\n", kv)
	}
	return b.String(), nil
}

// fail reports err on stderr and to the first client of fd 3, which the
// package leaves open and unclaimed when it returns an error, and exits.
func fail(err error) {
	log.Print(err)
	f := os.NewFile(3, "fd 3")
	if l, lerr := net.FileListener(f); lerr == nil {
		if c, aerr := l.Accept(); aerr == nil {
			fmt.Fprintf(c, "error: %v\n", err)
			c.Close()
		}
	}
	os.Exit(1)
}
