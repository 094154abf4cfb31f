// Package notify implements the client side of systemd's notification
// protocol (sd_notify(3)): a service tells its manager that it is ready,
// reloading or stopping, shows a status line, pings the watchdog, and keeps
// file descriptors in the manager's file descriptor store so that they
// survive a restart.
//
// # Messages
//
// Each call sends one datagram to the socket named by NOTIFY_SOCKET: an
// absolute path, an abstract socket name (@name, Linux), or vsock:CID:PORT
// (vsock-stream:, vsock-dgram: and vsock-seqpacket: choose the socket type;
// Linux). A plain vsock: address means datagrams, falling back to
// sequential packets and then to a stream when the transport has no
// datagrams, as systemd does; on stream and sequential packet sockets the
// message ends when this side shuts down writing, and the call waits for the
// manager to close its end.
//
// Every call returns sent, false when NOTIFY_SOCKET is unset (the process is
// not supervised, and the call did nothing), and an error for a malformed
// NOTIFY_SOCKET, an invalid message, or a failed send. A true sent means the
// kernel took the message; [Barrier] waits until the manager has processed
// it. The typed calls ([Ready], [Reloading], [Stopping], [Status], [Errno],
// [ExtendTimeout], [Watchdog], [WatchdogTrigger], [MainPID]) build the
// assignments systemd reads; [Send] and [SendWithFiles] send any text.
//
// Messages are at most [MaxMessageSize] bytes and carry at most [MaxFiles]
// files. Files are passed as SCM_RIGHTS: the manager receives copies, and the
// caller keeps and still owns every file, listener and connection it passes.
// Credentials (SCM_CREDENTIALS) are attached, as systemd attaches them, only
// when the real and effective user or group ids differ.
//
// # The file descriptor store
//
// A service can hand its listening sockets, its open connections, or a
// memfd holding its state to the manager with [Store], [StoreListener],
// [StoreConn] or [StoreFile], each under a name. When the service restarts,
// the manager passes the stored descriptors back like socket-activated ones,
// through LISTEN_FDS, after the sockets of its socket units, each named in
// LISTEN_FDNAMES with the name it was stored under. The root package finds
// them by name:
//
//	l, err := activation.Listen("tcp", "sd-listen:web") // the listener stored as "web"
//	byName, err := activation.ListenersWithNames()      // byName["web"]
//	conns, err := activation.ConnsNamed("peer")         // the connections stored as "peer"
//	files, err := activation.Files()                    // any stored file; Name() is its name
//
// so a restart loses no connection: the new process accepts on the same
// socket, and connections stored with [StoreConn] come back as open
// sockets. (Package graceful keeps the idle connections of an HTTP server
// in the store under names of its own, and takes them back; Conns and Files
// take every inherited connection or file, those included.) [Remove] drops stored descriptors by name; the manager also drops
// a stored descriptor on its own when it reports a hang-up or an error,
// unless it was stored with [StoreNoPoll]. [StoreEnabled] and [StoreMax]
// read $FDSTORE, by which the manager says that it keeps stored descriptors
// and how many.
//
// The unit needs (systemd reads comments only on lines of their own):
//
//	[Service]
//	# The manager waits for READY=1 (or use notify-reload).
//	Type=notify
//	# Who may send; "all" if processes other than the main one send too.
//	NotifyAccess=main
//	# The store holds nothing by default (0).
//	FileDescriptorStoreMax=16
//	# systemd 254 and later set $FDSTORE themselves; for older ones:
//	Environment=FDSTORE=16
//	# "restart" (the default) keeps the store only while the unit runs or
//	# restarts; "yes" (systemd 254 and later) keeps it while it is stopped.
//	FileDescriptorStorePreserve=yes
//	# Optional: sets WATCHDOG_USEC, see WatchdogEnabled.
//	WatchdogSec=30s
//
// # Watchdog
//
// With WatchdogSec= set, the manager passes WATCHDOG_USEC (and WATCHDOG_PID)
// and restarts or kills the service when no WATCHDOG=1 arrives within that
// interval. [WatchdogEnabled] reads the interval; [WatchdogLoop] pings every
// half interval until its context ends.
//
// # Platforms
//
// Path sockets work on every Unix system; abstract names and vsock need
// Linux, and [Reloading] needs a readable CLOCK_MONOTONIC. On other systems,
// and on platforms without Unix domain sockets (Windows, Plan 9, js/wasm,
// wasip1), every call still returns false and a nil error when NOTIFY_SOCKET
// is unset, and an error wrapping [errors.ErrUnsupported] when it is set.
//
// NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read on every call and
// never unset; child processes inherit them.
package notify
