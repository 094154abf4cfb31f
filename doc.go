// Package activation implements socket activation for Go servers: it takes
// over the file descriptors a service manager passes to a process under
// the LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES protocol of systemd
// (sd_listen_fds(3)), and returns them as the standard library's types.
//
// Listeners returns the listening stream sockets as net.Listener
// (*net.TCPListener for tcp and tcp6, *net.UnixListener for unix and
// unixpacket), PacketConns the datagram sockets as net.PacketConn
// (*net.UDPConn, *net.UnixConn), Conns the connected sockets that an
// Accept=yes service receives as net.Conn (*net.TCPConn, *net.UnixConn),
// and Files every fd as *os.File, named after its LISTEN_FDNAMES entry.
// Listen and ListenPacket take an address that works both activated and
// run by hand: "sd-listen:web" selects the inherited socket named web, and
// an ordinary address such as ":8080" takes an inherited socket bound
// there or else listens itself.
//
// # Semantics
//
// The environment is read once per process, on the first call of any
// function of this package, exactly as libsystemd's
// sd_listen_fds_with_names(1, …) reads it: the same number syntax, the same
// order of checks, LISTEN_PIDFDID on Linux, and "unknown" as the name of
// every fd when LISTEN_FDNAMES is absent. Variables meant for another
// process give nothing and no error (but for a LISTEN_FDNAMES ending in a
// lone backslash, which libsystemd refuses before it looks at
// LISTEN_PID), and their fds are not touched. A
// malformed environment gives an error that names the variable and quotes
// its value; every later call returns the same error (but the Stdin
// functions and "fd:0", which do not depend on the variables). A call that
// fails on its own arguments (TLSListeners with a nil config, Listen with
// an unknown network) still does this first reading. Afterwards LISTEN_PID,
// LISTEN_PIDFDID, LISTEN_FDS and LISTEN_FDNAMES are unset, on every path,
// and every inherited fd that the first call does not close is marked
// close-on-exec, so nothing leaks into child processes (that call holds
// syscall.ForkLock for reading until then, as the standard library does
// while it makes fds). When the first call fails with LISTEN_PID and
// LISTEN_FDS this process's and valid, every open fd of their range is
// marked: those after the fd it failed on too, where libsystemd stops, and
// all of them when LISTEN_FDNAMES or LISTEN_PIDFDID is malformed, where
// libsystemd marks none. No fd outside the range is touched.
//
// # Which fds are the manager's
//
// An fd that is already close-on-exec when the first call looks at it is
// not taken as inherited: exec closes such fds, so none that came through
// exec is, and the Go runtime opens its own files close-on-exec before
// main, on the lowest free fds. A LISTEN_FDS that counts more fds than
// were passed, or a range with a hole in it, therefore reaches an fd that
// is not open or one this process opened; the first call checks every fd
// of the range, in order, and the first such fd ends it with an error
// that names the fd, as libsystemd reports EBADF for an fd that is not
// open. No fd this process opened close-on-exec, as Go opens every fd, is
// listed, returned or closed, wherever it sits in the range, and the work
// done and memory used follow the fds really open, whatever LISTEN_FDS
// claims. (An fd the program opens without close-on-exec, through dup(2)
// or cgo, cannot be told from an inherited one: one in the range is taken
// as the manager's.) The rule has one consequence:
// if other code marked the inherited fds close-on-exec before this
// package's first call (libsystemd's sd_listen_fds(0), or go-systemd's
// Files(false), both keep the variables set), the first call reports the
// first such fd instead of taking fds that code may use.
//
// An fd of any kind can be inherited: sockets of every family and type,
// FIFOs, files, character devices, message queues, and O_PATH handles
// (Linux), which are described by what they name. A socket is handed out
// as a net package value only when that value serves what the socket is:
// a listening socket as a listener, a connected one as a connection, a UDP
// or unix datagram socket as a packet connection. An ICMP "ping" socket,
// a raw socket or a socket of another family is of network "other" and
// only Files returns it (a datagram socket's protocol is checked on Linux;
// macOS, the other system with ICMP datagram sockets, cannot tell, and
// there one with inet addresses is taken for UDP).
//
// Each inherited fd is handed out at most once, by whichever call takes it
// first, from any number of goroutines: Listeners then PacketConns both get
// their sockets, and a second Listeners gets only what is left. A call
// either hands out everything it selects or, when one fd cannot be
// converted, returns an error naming that fd and hands out nothing; every
// socket stays open and unclaimed for a later call (one converted before
// the failure is kept, under another fd number, in the value made of it,
// and its original fd is closed). The package never closes a socket, or
// any fd, that it did not take from the manager, and after conversion
// each socket is held by exactly one fd: the one inside the returned
// value, which the caller owns. Until a call hands an inherited fd out,
// the fd is the package's: a program that closes it by number instead
// lets its own next fd take that number, which a later call would then
// take for the manager's (close what the package returns instead).
//
// # Addresses
//
// Listen and ListenPacket take "sd-listen", "sd-listen:NAME",
// "sd-listen:NAME:I" and "fd:N" to select inherited sockets, and any other
// address as net.Listen and net.ListenPacket take it. For those, an
// unclaimed inherited socket is taken when binding the address would be
// binding that socket, or colliding with it in a way only that socket can
// serve; otherwise the call listens itself:
//
//	network                     address               takes an inherited socket bound to
//	tcp, udp                    :P, [::]:P            0.0.0.0:P or [::]:P
//	tcp, udp                    0.0.0.0:P             0.0.0.0:P, or [::]:P if dual-stack (IPV6_V6ONLY off, as
//	                                                  systemd's ListenStream=P makes it)
//	tcp4, udp4                  :P, 0.0.0.0:P         0.0.0.0:P
//	tcp6, udp6                  :P, [::]:P            [::]:P
//	any of the above            IP:P                  IP:P exactly (an IPv4 address also as ::ffff:IP)
//	any of the above            HOST:P                as for the IP that net.Listen resolves HOST to
//	any of the above            :SERVICE              as for its port (":http" is port 80)
//	unix, unixpacket, unixgram  PATH                  a socket of that type bound to the file that PATH
//	                                                  names now (same device and inode: a path through a
//	                                                  symbolic link matches, a relative path is read from
//	                                                  the working directory)
//	unix, unixpacket, unixgram  @NAME                 the abstract socket @NAME (Linux)
//
// Port 0 takes no inherited socket: binding it takes a port of the
// kernel's choosing, which no socket holds. A host name is resolved, and
// files are looked up, with no lock held, so a slow resolver stalls
// neither os/exec nor other calls of this package.
// Which file a unix socket is bound to is asked of the kernel (sock_diag)
// on Linux. Elsewhere, and on Linux where stat gives a file a device
// number other than the kernel's (btrfs subvolumes, overlays whose layers
// are on other file systems), the socket's own absolute path is looked up
// instead, and a socket bound to a relative path matches nothing.
//
// # Platforms
//
// The protocol works on every Unix. On other systems (Windows, Plan 9,
// js/wasm, wasip1) nothing is ever inherited: the functions that hand out
// what was inherited return nothing and a nil error, Listen and
// ListenPacket fall back to net.Listen and net.ListenPacket for an
// ordinary address and return an error for the sd-listen and fd: forms,
// and the Stdin functions return an error wrapping errors.ErrUnsupported.
package activation
