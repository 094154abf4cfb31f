// Command report measures github.com/go-activation/activation against
// github.com/coreos/go-systemd/v22/activation on the same kind of fds and
// writes a Markdown report to standard output. Run it from the bench
// directory:
//
//	go run ./cmd/report -out results    # full run: 2–3 minutes on 2 cores
//	go run ./cmd/report -quick          # smoke run: a few seconds, figures not meaningful
//
// Flags: -children, -n, -strace-runs, -hostile-runs, -hostile-timeout,
// -hostile-mem, -requests, -concurrency, -rounds, -starts, -retry,
// -sections, -out and -quick; see -h and bench/README.md. It needs Linux, /usr/bin/strace,
// /usr/bin/systemd-socket-activate and the go command (it builds the
// cold-start servers in ./coldstart).
//
// The report binary re-executes itself as the measured child processes
// ("report child …"); those modes are not meant to be run by hand.
package main
