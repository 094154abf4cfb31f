// Socket-activate runs a program with sockets passed by the systemd socket
// activation protocol, for development on Linux, macOS and the BSDs. It
// takes the flags of systemd-socket-activate(1) and adds --now, --restart
// and --notify.
//
// Install it with
//
//	go install github.com/go-activation/activation/cmd/socket-activate@latest
//
// Usage:
//
//	socket-activate [OPTIONS...] PROGRAM [ARGS...]
//	socket-activate --notify --now [OPTIONS...] PROGRAM [ARGS...]
//
// The options stop at the first argument that is not one, or after "--":
//
//	-h, --help                  Show this help and exit
//	    --version               Print the version and exit
//	-l, --listen=ADDR           Listen on ADDR (repeatable; fds 3, 4, ... in order)
//	-d, --datagram              Listen on datagram sockets instead of stream sockets
//	    --seqpacket             Listen on SOCK_SEQPACKET sockets (unix addresses)
//	-a, --accept                Accept each connection and start one PROGRAM per
//	                            connection, with the connection on fd 3
//	-E, --setenv=VAR[=VALUE]    Pass VAR to PROGRAM (VAR alone copies our value)
//	    --fdname=NAME[:NAME...] Name the fds in LISTEN_FDNAMES (one name is
//	                            used for every fd)
//	    --inetd                 Pass the socket as stdin and stdout instead,
//	                            without LISTEN_* variables
//	    --now                   Start PROGRAM at once, not at the first
//	                            connection or datagram
//	    --restart               Start PROGRAM again when it exits or when
//	                            socket-activate gets SIGHUP; the sockets stay open
//	    --notify                Give PROGRAM a NOTIFY_SOCKET and be its service
//	                            manager, as for a systemd Type=notify service:
//	                            print its state as it changes, and keep fds sent
//	                            with FDSTORE=1 for the next start (an fd that
//	                            hangs up is dropped, unless sent with FDPOLL=0)
//	    --timeout-start-sec=SEC With --notify, stop PROGRAM with SIGTERM (SIGKILL
//	                            10 s later) when it has not sent READY=1 within
//	                            SEC, which EXTEND_TIMEOUT_USEC= extends; the run
//	                            fails (default: no limit)
//	    --watchdog-sec=SEC      With --notify, set WATCHDOG_USEC and WATCHDOG_PID;
//	                            from READY=1 on, SEC without a WATCHDOG=1, or a
//	                            WATCHDOG=trigger, sends SIGABRT (SIGKILL 10 s
//	                            later) and the run fails (default: no watchdog)
//	    --notify-access=main|exec|all
//	                            With --notify, whose messages count: main (the
//	                            default), PROGRAM's alone; exec, the same here;
//	                            all, those of its child processes too. Others
//	                            are dropped with a warning. Only Linux and
//	                            FreeBSD tell who sent a message: elsewhere only
//	                            all works, and is the default
//	    --fdstore-max=N         With --notify, keep at most N fds (default 256);
//	                            PROGRAM gets FDSTORE=N; 0 turns the store off
//
// An address ADDR is one of
//
//	PORT             every address, IPv6 and IPv4 (a dual-stack IPv6 socket)
//	IP:PORT          an IPv4 address, such as 127.0.0.1:8080
//	[IPv6]:PORT      an IPv6 address, such as [::1]:8080
//	/path/to/socket  a unix socket path; a socket file nobody answers on is
//	                 replaced, and the file is removed at exit
//	@name            a Linux abstract unix socket (an error elsewhere)
//
// A PORT of 0 lets the system pick a free port; every socket is printed on
// standard error with the address it got:
//
//	socket-activate: listening on 127.0.0.1:34567 (fd 3, name "web")
//
// A time span SEC is read as systemd reads TimeoutStartSec= and
// WatchdogSec=: seconds (5, 1.5), a number with a unit (500ms, 2s, 1min,
// 1h; us, ms, s, min or m, h, d, w, M for months, y, and systemd's longer
// spellings such as usec, msec, seconds, minutes, hours), several added up
// (1min 30s, 1min30s); 0 or infinity means no limit.
//
// # What the program gets
//
// The sockets are fds 3, 4, … in the order of the -l flags, blocking and not
// close-on-exec. The program's environment is built afresh, as
// systemd-socket-activate builds it: the -E variables; TERM, PATH, USER and
// HOME when they are set; LISTEN_FDS; LISTEN_PID, the program's own pid;
// LISTEN_FDNAMES, always (systemd-socket-activate sets it only with
// --fdname): "unknown" for every fd unless --fdname names them. One name is
// used for every fd; a different count of names is passed as given, as
// systemd-socket-activate does, with a warning. Go cannot set LISTEN_PID
// between fork and exec, so socket-activate starts a copy of itself that
// sets LISTEN_PID (and WATCHDOG_PID with --watchdog-sec) to its own pid and
// executes the program in its place (the pid stays the same). The program is looked up through PATH before
// any socket is opened.
//
// By default socket-activate waits for the first connection or datagram on
// any socket, without accepting it, then starts the program, which finds
// the connection waiting. With --now it starts the program at once.
//
// With --accept, socket-activate accepts every connection itself and starts
// one program per connection with the connected socket on fd 3, LISTEN_FDS=1
// and LISTEN_FDNAMES set to the listening socket's --fdname, or "connection"
// as systemd names them. REMOTE_ADDR and REMOTE_PORT give an IP peer's
// address. With --inetd the socket (the connection with --accept, else the
// one listening socket) is the program's stdin and stdout, and no LISTEN_*
// variable is set.
//
// # Restarts and signals
//
// The program runs in a process group of its own, so that a terminal's ^C
// reaches it once, through socket-activate (it cannot read the terminal).
// SIGINT and SIGTERM are forwarded to the group, and socket-activate exits with its exit status (128 plus
// the signal's number when a signal ended it); without a program running, it
// exits 0. SIGHUP is forwarded too, unless --restart is given: then SIGHUP
// stops the program with SIGTERM (SIGKILL after 10 s) and starts it again at
// once. With --restart, a program that exits is started again, at the next
// connection or at once with --now; a program that fails within a second,
// or exits within a second five times in a row, is restarted a second
// later. The sockets stay open in socket-activate all along, so clients of
// an edit-build-restart loop wait in the listen backlog instead of being
// refused. With --accept, SIGINT and SIGTERM stop accepting and are
// forwarded to every running program; socket-activate exits 0 once they
// have exited.
//
// # --notify: the service manager of a Type=notify program
//
// With --notify the program gets NOTIFY_SOCKET, a datagram socket in a new
// temporary directory, and socket-activate handles the sd_notify(3)
// messages it sends as systemd handles those of a Type=notify service, so
// that a service's start, watchdog, reloads and fd store can be tried out
// without systemd. Each option stands for the unit setting it is named
// after.
//
// The program's state is printed on standard error, one line each time it
// changes, as systemctl status shows it:
//
//	socket-activate: Active: activating (start)
//	socket-activate: Active: active (running)
//	socket-activate: Status: "serving on 127.0.0.1:8080"
//	socket-activate: Active: reloading (reload)
//	socket-activate: Active: deactivating (stop-sigterm)
//	socket-activate: Active: failed (Result: timeout)
//	socket-activate: Error: 2 (No such file or directory)
//	socket-activate: Main PID: 4242
//
// A run starts "activating (start)"; READY=1 makes it "active (running)",
// RELOADING=1 "reloading (reload)" until the next READY=1, STOPPING=1
// "deactivating (stop-sigterm)", as does socket-activate stopping the
// program; after STOPPING=1, READY=1 and RELOADING=1 change nothing. When
// the program exits, the run ends "inactive (dead)" (exit status 0, or
// killed by SIGHUP, SIGINT, SIGTERM or SIGPIPE) or "failed" with the
// result: exit-code, signal, core-dump, timeout or watchdog. STATUS= is
// shown as Status:, ERRNO= as Error: with the error's text, EXIT_STATUS=
// as Exit status: (systemd keeps it for information only, and so does
// socket-activate, which exits with the program's own status). MONOTONIC_USEC=
// is checked but not used: there is no reload request to compare it with.
// Malformed values are warned about in the words systemd logs them with.
//
// --timeout-start-sec=SEC (TimeoutStartSec=) gives the program SEC from its
// start to send READY=1. When it has not, socket-activate says "start
// operation timed out. Terminating.", sends SIGTERM to its process group,
// SIGKILL 10 s later if it is still running, and the run fails with the
// result timeout. EXTEND_TIMEOUT_USEC=N moves the limit to N microseconds
// from the moment the message arrives, if that is later. Without the option
// there is no limit (systemd's default is 90 s).
//
// --watchdog-sec=SEC (WatchdogSec=) passes WATCHDOG_USEC (SEC in
// microseconds) and WATCHDOG_PID, the program's own pid, which the shim
// that sets LISTEN_PID sets too. From READY=1 (or the first WATCHDOG=1) on,
// the program must send WATCHDOG=1 within every SEC, as notify.WatchdogLoop
// in github.com/go-activation/activation/notify does; when one is missing,
// socket-activate says "Watchdog timeout (limit SEC)!" and sends SIGABRT
// (systemd's default WatchdogSignal=), then SIGKILL 10 s later, and the run
// fails with the result watchdog. WATCHDOG=trigger does the same at once,
// with or without the option. WATCHDOG_USEC=N from the program sets the
// interval to N microseconds from then on, for the rest of the run (0
// turns the watchdog off); EXTEND_TIMEOUT_USEC= postpones the next ping
// as it postpones the start timeout. The watchdog stops when the program
// sends STOPPING=1 or socket-activate stops it.
//
// A run that a timeout or the watchdog stopped has failed: socket-activate
// exits with the program's exit status, or 1 if that was 0, and with
// --restart starts the program again, a second later if the run lasted
// less than a second, as after any quick failure.
//
// --notify-access=main|exec|all (NotifyAccess=) chooses whose messages
// count. With main, the default, only the main process's: the program
// socket-activate started, or the process MAINPID= named since. exec
// allows what main does, since socket-activate runs no ExecStartPre= or
// other control processes. all allows the program's child processes too,
// which a shell script that calls systemd-notify needs: systemd-notify is
// the script's child (run by root, it sends as its parent, the script, as
// the kernel lets root do, so main accepts it; systemd treats it alike). A
// message that does not count is dropped, and its fds closed, with
// systemd's warning:
//
//	socket-activate: warning: Got notification message from PID 4243, but reception only permitted for main PID 4242
//
// The kernel tells who sent a message: SCM_CREDENTIALS on Linux, and
// LOCAL_CREDS_PERSISTENT on FreeBSD 13 and later. macOS, OpenBSD, NetBSD,
// DragonFly, illumos, Solaris, AIX and older FreeBSD attach no sender to
// a datagram that the receiver can read (LOCAL_PEERCRED and getpeereid
// work on connected sockets only), so there only all works: it is the
// default, socket-activate says so at start, and --notify-access=main or
// exec is an error. MAINPID= is accepted for a live process in the
// program's process group, or from root; signals still go to the program
// socket-activate started and its process group (and to a main process
// outside it), and the run still ends when that program exits.
//
// BARRIER=1 with one fd is answered by closing the fd, whoever sent it,
// without a word, as systemd does: sd_notify_barrier(3), notify.Barrier and
// systemd-notify, which sends one after its message, work.
//
// # The fd store
//
// FDSTORE=1 with fds keeps them under FDNAME ("stored" without it, or with
// a name that is not valid). As in systemd, an fd that shares its open file
// description with one in the store (a dup of it, or the fd the program got
// back and stores again) is not kept twice, while two opens of one file, or
// the two ends of a pipe, are two entries; outside Linux, which alone can
// compare open file descriptions (F_DUPFD_QUERY, kcmp), two opens of one
// file with the same flags count as one, as in systemd's fallback.
// FDSTOREREMOVE=1 with FDNAME closes the fds of that name. Fds sent without
// FDSTORE=1 are closed, with a warning. At every start the stored fds are
// passed after the sockets, their names in LISTEN_FDNAMES, so that a
// program can hand state such as open connections to its next run.
//
// --fdstore-max=N (FileDescriptorStoreMax=) keeps at most N fds, 256 by
// default; further ones are closed with systemd's warning ("Cannot store
// more fds than --fdstore-max=N, closing remaining."). The program gets
// FDSTORE=N, as recent systemd sets it, so that it can tell the store is
// on. With --fdstore-max=0 there is no store: FDSTORE is not set and every
// fd sent with FDSTORE=1 is closed with that warning, as systemd drops
// them.
//
// With --notify and --now, -l may be left out, as a systemd Type=notify
// service with FileDescriptorStoreMax= may have no socket unit: the
// program opens its own listening sockets and stores them, and --restart
// hands them to the next run, whose clients wait in the listen backlog
// meanwhile. With no socket and nothing stored the program gets no
// LISTEN_* variable at all, as systemd passes none when it has nothing to
// pass; once it stored fds, the next start gets them with LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID. Without -l, --now is needed, since there
// is no socket to wait on, and --fdname, --datagram and --seqpacket,
// which apply to -l sockets, are errors.
//
// As systemd does, socket-activate watches the stored fds and closes and
// drops one that reports POLLHUP or POLLERR, saying so on standard error:
// a connection whose peer is gone (a TCP connection once it is reset or
// shut down both ways, not after a mere FIN), a pipe whose write end is
// closed. A listening socket never reports either. An fd that hung up is
// never passed to the next start. FDPOLL=0 in the FDSTORE=1 message keeps
// its fds however they poll, until FDSTOREREMOVE=1; for an fd stored
// twice, the first message's FDPOLL holds. An fd that cannot be watched
// at all, an O_PATH handle, is kept only when stored with FDPOLL=0, as
// systemd requires; otherwise it is closed with a warning.
//
// # Errors
//
// Setup errors (a bad address, a port in use, a program not found, a bad
// combination of options such as --timeout-start-sec, --watchdog-sec,
// --notify-access or --fdstore-max without --notify) are printed on
// standard error, prefixed "socket-activate: ", and exit with status 1, as
// systemd-socket-activate does.
//
// # Platforms
//
// socket-activate works on Linux, macOS, the BSDs and the other unix
// systems Go supports. On Windows, Plan 9, js/wasm and wasip1 it prints
// "socket-activate: not supported on GOOS" and exits 1. vsock addresses are
// not supported.
//
// # Example
//
//	go build -o /tmp/server ./myserver
//	socket-activate --restart -l 127.0.0.1:8080 --fdname=http /tmp/server &
//	# after each rebuild:
//	go build -o /tmp/server ./myserver && kill -HUP %1
//
// A server that opens its own listener and keeps it in the fd store
// (notify.StoreListener in github.com/go-activation/activation/notify)
// needs no -l:
//
//	socket-activate --notify --now --restart /tmp/server &
package main
