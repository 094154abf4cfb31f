//go:build unix

package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// usage is printed by -h and --help.
const usage = `Usage: socket-activate [OPTIONS...] PROGRAM [ARGS...]
       socket-activate --notify --now [OPTIONS...] PROGRAM [ARGS...]

Listen on sockets and start PROGRAM with them, passed by the systemd
socket activation protocol (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES).

Options:
  -h, --help                  Show this help and exit
      --version               Print the version and exit
  -l, --listen=ADDR           Listen on ADDR (repeatable; fds 3, 4, ... in order)
  -d, --datagram              Listen on datagram sockets instead of stream sockets
      --seqpacket             Listen on SOCK_SEQPACKET sockets (unix addresses)
  -a, --accept                Accept each connection and start one PROGRAM per
                              connection, with the connection on fd 3
  -E, --setenv=VAR[=VALUE]    Pass VAR to PROGRAM (VAR alone copies our value)
      --fdname=NAME[:NAME...] Name the fds in LISTEN_FDNAMES (one name is
                              used for every fd)
      --inetd                 Pass the socket as stdin and stdout instead,
                              without LISTEN_* variables
      --now                   Start PROGRAM at once, not at the first
                              connection or datagram
      --restart               Start PROGRAM again when it exits or when
                              socket-activate gets SIGHUP; the sockets stay open
      --notify                Give PROGRAM a NOTIFY_SOCKET and be its service
                              manager, as for a systemd Type=notify service:
                              print its state as it changes, and keep fds sent
                              with FDSTORE=1 for the next start (an fd that
                              hangs up is dropped, unless sent with FDPOLL=0)
      --timeout-start-sec=SEC With --notify, stop PROGRAM with SIGTERM (SIGKILL
                              10 s later) when it has not sent READY=1 within
                              SEC, which EXTEND_TIMEOUT_USEC= extends; the run
                              fails (default: no limit)
      --watchdog-sec=SEC      With --notify, set WATCHDOG_USEC and WATCHDOG_PID;
                              from READY=1 on, SEC without a WATCHDOG=1, or a
                              WATCHDOG=trigger, sends SIGABRT (SIGKILL 10 s
                              later) and the run fails (default: no watchdog)
      --notify-access=main|exec|all
                              With --notify, whose messages count: main (the
                              default), PROGRAM's alone; exec, the same here;
                              all, those of its child processes too. Others
                              are dropped with a warning. Only Linux and
                              FreeBSD tell who sent a message: elsewhere only
                              all works, and is the default
      --fdstore-max=N         With --notify, keep at most N fds (default 256);
                              PROGRAM gets FDSTORE=N; 0 turns the store off

Addresses:
  PORT                        every address, IPv6 and IPv4 (dual stack)
  IP:PORT                     an IPv4 address, e.g. 127.0.0.1:8080
  [IPv6]:PORT                 an IPv6 address, e.g. [::1]:8080
  /path/to/socket             a unix socket path (removed first if it is a socket)
  @name                       a Linux abstract unix socket
A PORT of 0 picks a free port; the chosen address is printed.

SEC is a time span as systemd reads one: seconds (5, 1.5), a number with a
unit (500ms, 2s, 1min, 1h; us, ms, s, min or m, h, d, w, M for months, y,
and systemd's longer spellings such as msec or minutes), several added up
(1min 30s); 0 or infinity means no limit.

PROGRAM gets a fresh environment: TERM, PATH, USER and HOME when set, the
-E variables, LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (default name
"unknown", or "connection" with --accept), and with --notify NOTIFY_SOCKET,
FDSTORE (unless --fdstore-max=0), and WATCHDOG_USEC and WATCHDOG_PID with
--watchdog-sec.
SIGINT and SIGTERM are forwarded to PROGRAM; socket-activate exits with
PROGRAM's exit status, or 1 if it exited 0 after a timeout or the watchdog
stopped it.

Without -l, --notify --now runs a PROGRAM that opens its own sockets and
keeps them in the fd store: the first start gets no LISTEN_* variables,
later starts get the stored fds.
`

// options is the parsed command line.
type options struct {
	help, version bool
	listen        []string
	datagram      bool
	seqpacket     bool
	accept        bool
	setenv        []string // VAR=VALUE, in order, one per name
	fdnames       []string // nil when --fdname was not given
	inetd         bool
	now           bool
	restart       bool
	notify        bool
	timeoutStart  time.Duration // --timeout-start-sec; 0 for none
	watchdog      time.Duration // --watchdog-sec; 0 for none
	notifyAccess  string        // --notify-access; "" when not given
	fdstoreMax    int           // --fdstore-max
	notifyOnly    []string      // the options given that need --notify
	argv          []string      // PROGRAM and its arguments
}

// errUsage marks errors in the command line.
var errUsage = errors.New("see --help")

// parseArgs parses args (without the command name) the way getopt_long does
// with a leading "+": options stop at the first argument that is not an
// option, or after "--". Short options may be bundled (-ad) and take their
// value attached (-l8080) or as the next argument; long options take it after
// "=" or as the next argument. getenv supplies the values for -E VAR.
func parseArgs(args []string, getenv func(string) string) (*options, error) {
	o := &options{fdstoreMax: maxStored}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			o.argv = args[i+1:]
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			o.argv = args[i:]
			break
		}
		// value returns the option's value: inline (after "=" or attached
		// to a short option) or the next argument.
		value := func(name, inline string, hasInline bool) (string, error) {
			if hasInline {
				return inline, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value (%w)", name, errUsage)
			}
			i++
			return args[i], nil
		}
		if strings.HasPrefix(arg, "--") {
			name, inline, hasInline := strings.Cut(arg[2:], "=")
			var takesValue bool
			switch name {
			case "listen", "setenv", "fdname":
				takesValue = true
			case "timeout-start-sec", "watchdog-sec", "notify-access", "fdstore-max":
				takesValue = true
			case "help", "version", "datagram", "seqpacket", "accept", "inetd", "now", "restart", "notify":
			default:
				return nil, fmt.Errorf("unknown option %q (%w)", "--"+name, errUsage)
			}
			if !takesValue {
				if hasInline {
					return nil, fmt.Errorf("option %q takes no value (%w)", "--"+name, errUsage)
				}
				o.setFlag(name)
				continue
			}
			v, err := value("--"+name, inline, hasInline)
			if err != nil {
				return nil, err
			}
			if err := o.setValue(name, v, getenv); err != nil {
				return nil, err
			}
			continue
		}
		// A bundle of short options.
		for j := 1; j < len(arg); j++ {
			c := arg[j]
			switch c {
			case 'h':
				o.setFlag("help")
			case 'd':
				o.setFlag("datagram")
			case 'a':
				o.setFlag("accept")
			case 'l', 'E':
				name := map[byte]string{'l': "listen", 'E': "setenv"}[c]
				v, err := value("-"+string(c), arg[j+1:], j+1 < len(arg))
				if err != nil {
					return nil, err
				}
				if err := o.setValue(name, v, getenv); err != nil {
					return nil, err
				}
				j = len(arg)
			default:
				return nil, fmt.Errorf("unknown option %q (%w)", "-"+string(c), errUsage)
			}
		}
	}
	if o.help || o.version {
		return o, nil
	}
	return o, o.check()
}

// setFlag records a boolean option by its long name.
func (o *options) setFlag(name string) {
	switch name {
	case "help":
		o.help = true
	case "version":
		o.version = true
	case "datagram":
		o.datagram = true
	case "seqpacket":
		o.seqpacket = true
	case "accept":
		o.accept = true
	case "inetd":
		o.inetd = true
	case "now":
		o.now = true
	case "restart":
		o.restart = true
	case "notify":
		o.notify = true
	}
}

// setValue records an option that takes a value, by its long name.
func (o *options) setValue(name, v string, getenv func(string) string) error {
	switch name {
	case "listen":
		o.listen = append(o.listen, v)
	case "setenv":
		key, val, ok := strings.Cut(v, "=")
		if !ok {
			val = getenv(key)
		}
		if !validEnvName(key) {
			return fmt.Errorf("bad environment variable %q in --setenv (%w)", v, errUsage)
		}
		o.setenv = setEnv(o.setenv, key, val)
	case "fdname":
		for _, n := range strings.Split(v, ":") {
			if !validFDName(n) {
				return fmt.Errorf("bad fd name %q in --fdname: at most 255 printable ASCII characters (%w)", n, errUsage)
			}
			o.fdnames = append(o.fdnames, n)
		}
	case "timeout-start-sec", "watchdog-sec":
		d, err := parseTimespan(v)
		if err != nil {
			return fmt.Errorf("bad value %q for --%s: %v; want seconds, a span such as 500ms or 1min 30s, or infinity (%w)", v, name, err, errUsage)
		}
		if name == "watchdog-sec" {
			o.watchdog = d
		} else {
			o.timeoutStart = d
		}
	case "notify-access":
		if v != "main" && v != "exec" && v != "all" {
			return fmt.Errorf("bad value %q for --notify-access: want main, exec or all (%w)", v, errUsage)
		}
		o.notifyAccess = v
	case "fdstore-max":
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return fmt.Errorf("bad value %q for --fdstore-max: want a number of fds, 0 for no store (%w)", v, errUsage)
		}
		o.fdstoreMax = int(n)
	}
	if name == "timeout-start-sec" || name == "watchdog-sec" || name == "notify-access" || name == "fdstore-max" {
		o.notifyOnly = append(o.notifyOnly, "--"+name)
	}
	return nil
}

// check reports combinations of options that cannot work. Without -l
// there is no socket to wait on and nothing to pass but what the program
// stores, so --notify and --now are needed.
func (o *options) check() error {
	switch {
	case len(o.notifyOnly) > 0 && !o.notify:
		return fmt.Errorf("%s needs --notify: it sets how socket-activate handles the program's notifications (%w)", o.notifyOnly[0], errUsage)
	case len(o.listen) == 0 && !o.notify:
		return fmt.Errorf("no socket to listen on: give at least one -l ADDR, or --notify --now for a program that keeps its own sockets in the fd store (%w)", errUsage)
	case len(o.listen) == 0 && !o.now:
		return fmt.Errorf("--notify without -l needs --now: there is no socket to wait on for a first connection (%w)", errUsage)
	case len(o.listen) == 0 && o.fdnames != nil:
		return fmt.Errorf("--fdname names -l sockets, and no -l is given; the program names the fds it stores with FDNAME (%w)", errUsage)
	case len(o.listen) == 0 && (o.datagram || o.seqpacket):
		return fmt.Errorf("--datagram and --seqpacket choose the type of -l sockets, and no -l is given (%w)", errUsage)
	case len(o.argv) == 0:
		return fmt.Errorf("no program to run given (%w)", errUsage)
	case o.datagram && o.seqpacket:
		return fmt.Errorf("--datagram and --seqpacket cannot be combined (%w)", errUsage)
	case o.datagram && o.accept:
		return fmt.Errorf("datagram sockets do not accept connections: --datagram and --accept cannot be combined (%w)", errUsage)
	case o.accept && (o.restart || o.notify || o.now):
		return fmt.Errorf("--accept starts one program per connection: it cannot be combined with --restart, --notify or --now (%w)", errUsage)
	case o.inetd && !o.accept && len(o.listen) != 1:
		return fmt.Errorf("--inetd without --accept needs exactly one -l ADDR (%w)", errUsage)
	}
	return nil
}

// setEnv returns env (VAR=VALUE entries) with key set to val, replacing an
// earlier entry for the same key in place.
func setEnv(env []string, key, val string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + val
			return env
		}
	}
	return append(env, key+"="+val)
}

// validEnvName reports whether name can be an environment variable's name:
// not empty, no "=", no NUL.
func validEnvName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "=\x00")
}

// validFDName reports whether name is valid in LISTEN_FDNAMES by systemd's
// rule: at most 255 bytes, each in 32–126, no ":" (the empty name is valid).
func validFDName(name string) bool {
	if len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 32 || name[i] > 126 || name[i] == ':' {
			return false
		}
	}
	return true
}
