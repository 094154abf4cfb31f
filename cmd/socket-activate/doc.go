// Socket-activate runs a program with sockets passed by the systemd socket
// activation protocol, for development on Linux, macOS and the BSDs. It is a
// drop-in for systemd-socket-activate(1): it takes its options, passes the
// same fds, prints the same lines for the same events and exits with the
// same statuses, and differs only where said below. It adds --now, --restart, --notify (the
// service manager's side of a systemd Type=notify service: its state, a
// start timeout, a watchdog and the fd store), --socket-mode, and an
// edit-build loop (--watch, --build) where no client is refused.
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
// The options stop at the first argument that is not one, or after "--".
// As with getopt_long, a long option may be abbreviated to any prefix that
// selects one option (--fdn=web, --acc), and an error is worded as
// getopt_long words it ("option '--se' is ambiguous; possibilities:
// '--seqpacket' '--setenv'"). An abbreviation that systemd-socket-activate
// accepts selects the same option here, even where one of socket-activate's
// own options shares the prefix, and one that is ambiguous there is
// reported with the same list. --environment is the older name of
// --setenv. As with systemd-socket-activate, -h, --help and --version act
// as soon as they are read: what follows them is not looked at.
//
//	-h, --help                  Show this help and exit
//	    --version               Print the version and exit
//	-d, --datagram              Listen on datagram sockets instead of stream sockets
//	    --seqpacket             Listen on SOCK_SEQPACKET sockets (unix addresses)
//	-l, --listen=ADDR           Listen on ADDR (repeatable; fds 3, 4, ... in order)
//	-a, --accept                Accept each connection and start one PROGRAM per
//	                            connection, with the connection on fd 3
//	-E, --setenv=VAR[=VALUE]    Pass VAR to PROGRAM (VAR alone copies our value)
//	    --fdname=NAME[:NAME...] Name the fds in LISTEN_FDNAMES: one name for
//	                            all, or one per fd (another count is an error)
//	    --inetd                 Pass the socket as stdin and stdout instead,
//	                            without LISTEN_* variables
//	    --now                   Start PROGRAM at once, not at the first
//	                            connection or datagram
//	    --restart               Start PROGRAM again when it exits (at the next
//	                            connection, or at once with --now) or when
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
//	    --socket-mode=MODE      Give unix socket files MODE (octal, default
//	                            0644 whatever the umask)
//	    --watch=PATH            Watch PATH, a directory (with all under it) or a
//	                            file (repeatable); on a change run --build, then
//	                            start PROGRAM anew on the same sockets and stop
//	                            the one that runs (implies --now)
//	    --build=CMD             With --watch: run CMD with sh -c at start and
//	                            after each change; PROGRAM starts anew only
//	                            when CMD succeeds, else the one that runs stays
//
// An address ADDR is one of
//
//	PORT             every address, IPv6 and IPv4 (a dual-stack IPv6 socket)
//	IP:PORT          an IPv4 address, such as 127.0.0.1:8080
//	[IPv6]:PORT      an IPv6 address, such as [::1]:8080
//	/path/to/socket  a unix socket path
//	@name            a Linux abstract unix socket (an error elsewhere)
//
// A PORT is decimal, from 0 to 65535; 0 lets the system pick a free port
// (systemd-socket-activate refuses 0, takes a sign, as in +8080, and reads
// a PORT with a leading 0 as octal). A bare PORT is always dual-stack:
// socket-activate turns IPV6_V6ONLY off, where systemd-socket-activate
// leaves the system's default (net.ipv6.bindv6only on Linux). An IPv6
// address may name its zone ([fe80::1%eth0]:8080), and "@" alone is the
// abstract socket of the empty name; systemd-socket-activate refuses both.
// Every socket gets SO_REUSEADDR, as systemd-socket-activate sets it. A
// unix socket file gets mode 0644 (--socket-mode chooses another) whatever
// the umask, as systemd-socket-activate gives it, and missing directories
// leading to it are made, 0755 whatever the umask, as
// systemd-socket-activate makes them. Unlike systemd-socket-activate, which
// unlinks whatever is at the path, socket-activate replaces only a socket
// file that nobody answers on, and leaves a live socket or another file
// alone (the bind then fails); it removes the socket files it made when it
// exits.
//
// A time span SEC is read as systemd reads TimeoutStartSec= and
// WatchdogSec=: seconds (5, 1.5), a number with a unit (500ms, 2s, 1min,
// 1h; us, ms, s, min or m, h, d, w, M for months, y, and systemd's longer
// spellings such as usec, msec, seconds, minutes, hours), several added up
// (1min 30s, 1min30s); 0 or infinity means no limit.
//
// # What the program gets
//
// The program gets stdin, stdout, stderr and its fds, nothing else: fds 3,
// 4, … are the fds socket-activate was itself started with, if LISTEN_FDS
// (and a LISTEN_PID that names it) passed it any, then the sockets of the
// -l options in their order, then with --notify the fds the program stored
// (see below); all are blocking and not close-on-exec. At start
// socket-activate marks every other fd it inherited close-on-exec (with
// close_range(2) where Linux has it, else each fd that /proc/self/fd or
// /dev/fd lists), so that an fd a shell opened for it (7</etc/hostname)
// reaches no program. (systemd-socket-activate closes such fds only when -l
// is given: with fds passed in alone, its program gets them too.) Fds
// passed in come first as systemd-socket-activate orders them, and -l is
// then optional; they keep their LISTEN_FDNAMES names, which
// systemd-socket-activate drops. A LISTEN_FDNAMES that does not name each
// of them, or ends in a lone backslash, is ignored with a warning, as
// systemd-socket-activate ignores it, and they are unnamed ("unknown"),
// where a program that reads them as libsystemd does would refuse them all.
// With --accept they must be listening sockets, and connections on them are
// accepted too.
//
// The program's environment is built afresh, as systemd-socket-activate
// builds it: TERM, PATH, USER and HOME when they are set (by those exact
// names: systemd-socket-activate 252 copies the first variable whose name
// starts with one of them, USERNAME for USER if it comes first);
// LISTEN_FDS; LISTEN_PID, the program's own pid; LISTEN_FDNAMES, always
// (systemd-socket-activate sets it only with --fdname); with --notify
// NOTIFY_SOCKET, FDSTORE (unless --fdstore-max=0), and WATCHDOG_USEC and
// WATCHDOG_PID with --watchdog-sec; then the -E variables, which win over
// all of these, as with systemd-socket-activate, which refuses the same -E
// values: a name that is not letters, digits and "_", or starts with a
// digit, and a VALUE that is not UTF-8 text (control characters are
// allowed; a value copied from socket-activate's environment is taken as it
// is). An fd is named "unknown" unless it came with a name or --fdname
// names it. --fdname gives one name for every fd, or one name per fd in
// order (fds passed in first); any other count is refused at start (with
// --inetd, which passes no names, any count is taken). That is stricter
// than systemd-socket-activate on purpose: it passes such names with a
// warning, and every program that reads them as libsystemd does then fails
// (EINVAL). The names of several --fdname options add up, each split as
// systemd-socket-activate splits it: at every ":", with no escapes, and
// empty names dropped ("a::b" is a and b, "a:" is a alone, which then names
// every fd), but an --fdname left with no name at all ("" or ":") gives one
// empty name. A name that systemd does not take as an fd name (a byte
// outside 32 to 126, or more than 255 bytes) is refused too.
//
// Go cannot set LISTEN_PID between fork and exec, so socket-activate starts
// a copy of itself that sets LISTEN_PID (and WATCHDOG_PID with
// --watchdog-sec) to its own pid and executes the program in its place
// (the pid stays the same). The program is looked up as execvp(3) looks
// it up: a name with a slash as it is, another through PATH, where "." or
// an empty entry is the current directory; a file the system cannot
// execute (ENOEXEC), such as a script without "#!", runs with /bin/sh, as
// execvp runs it. The lookup comes before any socket is opened, and a
// program not found is a setup error (with --watch, it is looked up again
// at each start; with --build, a program not found yet is no error).
//
// By default socket-activate waits for the first connection or datagram on
// any socket, without accepting it, then starts the program, which finds
// the connection waiting. With --now it starts the program at once.
//
// With --accept, socket-activate accepts every connection itself and starts
// one program per connection with the connected socket on fd 3, LISTEN_FDS=1
// and LISTEN_FDNAMES set to the listening socket's name: its --fdname, or
// for a socket passed in, the name it came with; else "connection", as
// systemd names them. (systemd-socket-activate passes a connection the
// whole --fdname, with a warning when it holds more than one name, and
// no LISTEN_FDNAMES without it.) REMOTE_ADDR and REMOTE_PORT give an IP
// peer's address, as systemd sets them for an Accept=yes service
// (systemd-socket-activate 252 sets neither). The programs keep the soft
// RLIMIT_NOFILE socket-activate was started with, where
// systemd-socket-activate lowers it to 1024 for its --accept programs.
// With --inetd the socket (the connection with --accept, else the one
// listening socket) is the program's stdin and stdout, and no LISTEN_*
// variable is set.
//
// # What it prints
//
// On standard error, socket-activate prints the lines
// systemd-socket-activate prints for the same events, in the same words,
// so that a script that reads them works with either; a line of its own,
// starting "socket-activate: ", may follow, and its errors are in its own
// words (after "socket-activate: "). The event lines are always printed,
// without a time: SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TIME, which
// systemd-socket-activate heeds, are ignored. Every socket, with the
// address it got and the fd the program gets it on, then its name:
//
//	Listening on 127.0.0.1:34567 as 3.
//	socket-activate: listening on 127.0.0.1:34567 (fd 3, name "web")
//
// "Received 2 descriptors via the environment." before them for fds
// passed in; "Communication attempt on fd 3." when the first connection
// or datagram arrives; "Execing ./server (./server -v)" as the program
// starts (at every start). With --accept, for each connection:
// "Communication attempt on fd 3.", "Connection from 127.0.0.1:50458 to
// 127.0.0.1:8080" (a unix peer as "PID 12/UID 1000", on Linux), "Spawned
// ./server (./server -v) as PID 12.", "Execing …", and once it exits
// "Child 12 died with code 0" (the exit status, or the signal's number).
//
// # Signals, the terminal and the exit status
//
// The program runs in socket-activate's process group, as it runs under
// systemd-socket-activate, which becomes the program: it can read the
// terminal (a debugger's prompt, a passphrase), and the terminal's ^C and
// ^\ reach it directly. socket-activate passes on the signals sent to it
// that would end systemd-socket-activate, which is the program, and
// SIGWINCH: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
// SIGVTALRM, SIGXCPU, SIGXFSZ, SIGWINCH and, on Linux, SIGPWR reach the
// program, but SIGINT, SIGQUIT and SIGWINCH only when they did not come
// from the terminal (while socket-activate's group is its terminal's
// foreground group, the terminal sent them to the program too, which must
// not get them twice). After SIGINT, SIGQUIT or SIGTERM, socket-activate
// exits once the program has, and does not start it again.
//
// What a parent cannot copy: a signal sent to the whole process group
// (kill -- -PGID, timeout(1), a shell's kill %1 under job control) reaches
// the program twice, directly and passed on, as socket-activate cannot
// tell who sent it. SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU and SIGCONT are
// not passed on: SIGPIPE is ignored (catching it would change how Go
// handles a write to a closed standard output), and the others stop or
// continue socket-activate alone.
//
// When socket-activate dies, even of SIGKILL, the program dies with it, as
// it dies with systemd-socket-activate, which is the program: on Linux and
// FreeBSD the kernel sends it SIGKILL, and sends --accept programs SIGTERM
// as it sends systemd-socket-activate's. Elsewhere the programs keep
// running.
//
// A signal socket-activate started with ignored (nohup's SIGHUP, the
// SIGINT of a shell's &) stays ignored, in socket-activate and in the
// program, and is never passed on; --accept programs start with it at its
// default action, as systemd-socket-activate's do. Go can tell only for
// SIGHUP and SIGINT: another signal socket-activate started with ignored,
// such as the SIGQUIT of a shell's & job, is caught and passed on all the
// same, and the program gets it at its default action.
//
// socket-activate ends as systemd-socket-activate ends:
//
//   - while a program runs: as the program ended, with its exit status or
//     of the signal that killed it (on Linux of any signal, at the
//     signal's default action; elsewhere of SIGHUP, SIGINT, SIGTERM or
//     SIGKILL, and for another signal, which a Go program cannot die of
//     there, it exits with 128 plus the signal's number, which a shell
//     reports alike);
//   - while no program runs (waiting for the first connection, for a
//     restart or for a build): of the signal it gets, but SIGHUP under
//     --restart or --watch, which asks for a restart or a build, and
//     SIGWINCH, which it ignores; it dies of the signal (outside Linux of
//     SIGHUP, SIGINT and SIGTERM, and exits with 128 plus the number of
//     another: SIGQUIT, SIGUSR1, SIGALRM and the others);
//   - with --accept: a signal stops it accepting; it sends SIGTERM to the
//     programs still running (as systemd-socket-activate's get SIGTERM
//     when it dies), SIGKILL after 10 s, waits for them and dies of the
//     signal;
//   - on a setup error (a bad address, a port in use, a program not found,
//     a bad combination of options, such as --timeout-start-sec,
//     --watchdog-sec, --notify-access or --fdstore-max without --notify):
//     with status 1, the error printed on standard error after
//     "socket-activate: ".
//
// # Restarts
//
// With --restart, SIGHUP stops the program with SIGTERM (SIGKILL after
// 10 s) and starts it again at once, and a program that exits is started
// again, at the next connection or at once with --now; a program that
// fails within a second, or exits within a second five times in a row, is
// restarted a second later. The sockets stay open in socket-activate all
// along, so clients wait in the listen backlog instead of being refused.
//
// # An edit-build loop
//
// With --watch PATH (a directory, with everything under it, or a file;
// repeatable), socket-activate runs --build CMD (with sh -c, in its working
// directory) at start and after each change, while the program that runs
// keeps serving. When CMD succeeds, it starts a new program on the same
// sockets, then stops the one that ran before with SIGTERM (SIGKILL after
// 10 s): connections the old program no longer accepts wait in the listen
// backlog for the new one, and no client is refused. With --notify the
// old program is stopped only once the new one sent READY=1, so that the
// two overlap and no client waits; a new program that exits first, or
// sends no READY=1 within --timeout-start-sec (30 s without it), is given
// up (see "--notify during a switch" below). When CMD fails, its output
// is printed and the program that runs keeps running. Changes within
// 100 ms of each other make one build, and changes made during a build
// make one more, once it ends. Without --build, a change starts the new
// program at once.
//
// --watch implies --now, and SIGHUP does what a change does. A program that
// exits is started again after the next successful build (at once with
// --restart). Version-control directories (.git, .hg, .svn, .jj), the
// files editors write next to the ones they edit (backups, swap files,
// locks, autosaves) and the program itself are ignored. Changes are seen
// with inotify on Linux, kqueue on macOS and the BSDs, and by looking every
// half second elsewhere.
//
// For a Go project:
//
//	socket-activate --watch . --build 'go build -o /tmp/app .' -l 127.0.0.1:8080 /tmp/app
//
// No request is lost if the program stops as it should on SIGTERM: it
// closes its listener, answers every request it accepted, tells keep-alive
// clients with "Connection: close" before it closes their connections, and
// exits.
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
// operation timed out. Terminating.", sends SIGTERM to the program,
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
// program's process group (which is socket-activate's), or from root;
// signals still go to the program socket-activate started (and to the
// main process MAINPID= named), and the run still ends when that program
// exits.
//
// # --notify during a switch
//
// With --watch and --notify, the new build's program is handled as a run
// of its own from its start: its messages count under
// --notify-access=main too, its lines start "new program: "
// ("socket-activate: new program: Active: activating (start)"), and it has
// --timeout-start-sec (30 s without it, since the program that runs waits
// for it) to send READY=1, which EXTEND_TIMEOUT_USEC= extends. When it
// does not, it is stopped as a run that timed out and the program that
// runs keeps running. Its READY=1 starts its own watchdog and makes it
// the main process ("socket-activate: Main PID: 4243"); the program that
// ran before then gets SIGTERM, and from then on its watchdog no longer
// runs (it is being stopped, as after STOPPING=1) and its messages count
// only for the fd store, without a warning. If the program that runs
// exits before the new one is ready, the new one becomes the main process
// at once, still starting. With --notify-access=all, during a switch a
// message from another process than the two programs (a child of one of
// them, or any sender where the system does not tell who sent it) counts
// for both, since which one it belongs to cannot be told.
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
// With --notify and --now, there may be no socket at all, as a systemd
// Type=notify service with FileDescriptorStoreMax= may have no socket unit:
// the program opens its own listening sockets and stores them, and
// --restart hands them to the next run, whose clients wait in the listen
// backlog meanwhile. With no socket and nothing stored the program gets no
// LISTEN_* variable at all, as systemd passes none when it has nothing to
// pass; once it stored fds, the next start gets them with LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID. With no socket, --now is needed, since
// there is nothing to wait on, and --fdname is an error.
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
// # Where it differs from systemd-socket-activate
//
// On purpose, socket-activate:
//
//   - adds --now, --restart, --notify (with --timeout-start-sec,
//     --watchdog-sec, --notify-access and --fdstore-max), --socket-mode,
//     --watch and --build, and takes port 0;
//   - always sets LISTEN_FDNAMES, passes on the names of the fds passed
//     to it (but a LISTEN_FDNAMES that does not name each, which it
//     ignores with a warning), and names each --accept connection after
//     its listening socket alone;
//   - refuses a --fdname count that does not match the fds, which every
//     program that reads them as libsystemd does would refuse, and an fd
//     name systemd does not accept (a byte outside 32 to 126, or more
//     than 255 bytes), which systemd-socket-activate passes with a
//     warning;
//   - sets REMOTE_ADDR and REMOTE_PORT for an --accept program, as systemd
//     does for Accept=yes services (systemd-socket-activate 252 sets
//     neither), and leaves it the soft RLIMIT_NOFILE it was started with
//     (systemd-socket-activate lowers it to 1024);
//   - keeps every inherited fd other than those passed in from the
//     program, where systemd-socket-activate closes them only when -l is
//     given;
//   - copies TERM, PATH, USER and HOME by their exact names, where
//     systemd-socket-activate 252 takes the first variable whose name
//     starts with one of them;
//   - reads a PORT as decimal without a sign (systemd-socket-activate
//     takes +8080, and reads 052117 as octal, port 21583), takes an IPv6
//     zone ([::1%lo]:8080) and a bare "@", which systemd-socket-activate
//     refuses, and makes a bare PORT dual-stack whatever
//     net.ipv6.bindv6only says;
//   - replaces only a socket file nobody answers on, and removes the
//     socket files it made at exit;
//   - looks the program up at start, and exits with status 1 if it is not
//     found (systemd-socket-activate looks it up at the first connection);
//   - ignores SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TIME, and words its setup
//     errors its own way (after "socket-activate: ");
//   - with --accept, waits for its programs after a signal before it dies
//     of it.
//
// Where a parent, and a Go program, cannot do what
// systemd-socket-activate does by becoming the program, socket-activate:
//
//   - stays the program's parent instead (LISTEN_PID is still the
//     program's pid, and the program its process group's member), so
//     outside Linux a signal other than SIGHUP, SIGINT, SIGTERM or SIGKILL
//     that kills the program, or comes while no program runs (SIGQUIT
//     too), gives status 128 plus its number, not death by it;
//   - passes a signal sent to its whole process group on to the program,
//     which got it already;
//   - does not keep ignored a signal other than SIGHUP and SIGINT that it
//     started with ignored (SIGQUIT under a shell's &);
//   - ignores SIGPIPE sent to it, and does not pass on SIGPIPE, SIGTSTP,
//     SIGTTIN, SIGTTOU and SIGCONT;
//   - outside Linux and FreeBSD, leaves the program running when it is
//     killed.
//
// # Platforms
//
// socket-activate works on Linux, macOS, the BSDs and the other unix
// systems Go supports. On Windows, Plan 9, js/wasm and wasip1 it prints
// "socket-activate: not supported on GOOS" and exits 1. vsock addresses are
// not supported.
//
// # Examples
//
// An edit-build loop, above; by hand:
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
