// Command handover measures what a restart under keep-alive load costs an
// HTTP server stopped by graceful.Serve, with the file descriptor store and
// without it, and writes a Markdown report to standard output. Run it from
// the bench directory:
//
//	go run ./cmd/handover                      # the full run: 100 restarts per mode
//	go run ./cmd/handover -restarts 5 -interval 200ms   # a smoke run
//
// It builds socket-activate from the parent module and runs itself, as the
// server ("handover serve"), under
//
//	socket-activate --notify --fdstore-max=256|0 --now --restart -l 127.0.0.1:0 --fdname=web
//
// while -clients clients that keep their connections send POST requests
// with a -body byte body and check the echo. Every -interval it sends
// socket-activate SIGHUP, which stops the server with SIGTERM and starts
// the next. With the store ("store": socket-activate keeps up to 256 fds
// and sets FDSTORE=256) the stopping server hands its idle connections to
// the next one; without it ("nostore", --fdstore-max=0: no FDSTORE) it
// closes them, and a POST a client sends on one as it closes is lost
// (http.Transport does not send a POST again).
//
// For each mode it reports the requests and the failed ones by error, the
// connections handed over at each restart (what each server took back), the
// connections the clients opened, the latency of the requests that were in
// flight during a switch (from SIGHUP to the next server's READY=1) against
// the others, and fd leaks: each server counts its fds before and after
// Serve, and socket-activate must hold no stored socket once the next server
// took them back.
//
// It needs Linux (/proc) and the go command.
package main
