// Package fdstore proves the file descriptor store end to end on Linux.
// It holds only tests: they build cmd/socket-activate and an HTTP server
// (testdata/server), run the server under socket-activate --notify
// --restart, and restart it under load while it keeps a long-lived
// connection to a peer in the activator's store. No request may fail,
// every run must answer, and the peer must see one connection, open all
// along. The server gets its listening socket either from the activator's
// -l, as from a socket unit, or opens it itself and keeps it in the store
// too, as a Type=notify service with no socket unit does (socket-activate
// --notify --now --restart without -l).
//
// A third test runs testdata/keepalive, a server stopped by graceful.Serve
// with the store on (socket-activate --notify sets FDSTORE), under load from
// clients that keep their connections and send POSTs: each restart hands
// the idle connections to the next server through the activator's store,
// and no request may fail. (The first two servers use graceful.Serve too,
// and hand over what is idle at their stops.)
package fdstore
