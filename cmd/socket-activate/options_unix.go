//go:build unix

package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-activation/activation/internal/fdname"
)

// usageHead and usageTail surround the option table in --help.
const (
	usageHead = `Usage: socket-activate [OPTIONS...] PROGRAM [ARGS...]
       socket-activate --notify --now [OPTIONS...] PROGRAM [ARGS...]

Listen on sockets and start PROGRAM with them, passed by the systemd
socket activation protocol (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES).

Options:
`
	usageTail = `
Addresses:
  PORT                        every address, IPv6 and IPv4 (dual stack)
  IP:PORT                     an IPv4 address, e.g. 127.0.0.1:8080
  [IPv6]:PORT                 an IPv6 address, e.g. [::1]:8080
  /path/to/socket             a unix socket path, mode 0644 whatever the umask
  @name                       a Linux abstract unix socket
A PORT of 0 picks a free port; every socket is printed with its address.

SEC is a time span as systemd reads one: seconds (5, 1.5), a number with a
unit (500ms, 2s, 1min, 1h; us, ms, s, min or m, h, d, w, M for months, y,
and systemd's longer spellings such as msec or minutes), several added up
(1min 30s); 0 or infinity means no limit.

PROGRAM gets fds 3, 4, ...: those passed to socket-activate by LISTEN_FDS
first, with their names, then the -l sockets, then with --notify the fds
it stored; no other fd. Its environment is fresh: TERM, PATH, USER and
HOME when set, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES (default name
"unknown", or "connection" with --accept), with --notify NOTIFY_SOCKET,
FDSTORE (unless --fdstore-max=0), and WATCHDOG_USEC and WATCHDOG_PID with
--watchdog-sec, then the -E variables, which win.

PROGRAM runs in socket-activate's process group and can use the terminal.
The signals that would end systemd-socket-activate (HUP, INT, QUIT, TERM,
USR1, USR2, ALRM, VTALRM, XCPU, XFSZ, and PWR on Linux) and WINCH are
passed on to it (INT, QUIT and WINCH not when the terminal sent them, to
PROGRAM too); HUP and INT ignored at start stay ignored. socket-activate
exits as PROGRAM did (with status 1 if it exited 0 after the start timeout
or the watchdog stopped it). A signal that comes while no PROGRAM runs
ends it, but WINCH: it dies of the signal (outside Linux, of HUP, INT and
TERM only, exiting 128+N for others).
When socket-activate dies, PROGRAM gets SIGKILL and --accept programs
SIGTERM (Linux, FreeBSD).

With --watch, a change runs --build while PROGRAM serves on; if it
succeeds a new PROGRAM starts on the same sockets and the old one gets
SIGTERM (with --notify, once the new one sent READY=1, so that the two
overlap; a new one that sends none within --timeout-start-sec, or 30 s
without it, is stopped instead), else the old one stays. SIGHUP does what
a change does. For a Go project:
  socket-activate --watch . --build 'go build -o /tmp/app .' \
      -l 127.0.0.1:8080 /tmp/app

Without sockets, --notify --now runs a PROGRAM that opens its own sockets
and keeps them in the fd store: the first start gets no LISTEN_* variables,
later starts get the stored fds.

Where socket-activate differs from systemd-socket-activate on purpose:
- it adds --now, --restart, --notify (with --timeout-start-sec,
  --watchdog-sec, --notify-access and --fdstore-max), --socket-mode,
  --watch and --build, and takes port 0;
- it always sets LISTEN_FDNAMES, passes on the names of fds passed in
  (ignoring, with a warning, names that do not fit them) and names an
  --accept connection after its listening socket alone;
- it refuses a --fdname count that does not match the fds (libsystemd
  would refuse it) and fd names systemd does not accept (bytes outside
  32-126, over 255 bytes);
- it sets REMOTE_ADDR and REMOTE_PORT for --accept programs and leaves
  them its soft RLIMIT_NOFILE (systemd-socket-activate 252 sets neither
  and lowers the limit to 1024);
- it keeps inherited fds other than those passed in from PROGRAM, also
  without -l, and copies TERM, PATH, USER and HOME by exact name;
- a PORT is decimal without a sign; IPv6 zones and a bare "@" are taken;
  a bare PORT is dual-stack whatever net.ipv6.bindv6only says;
- it replaces only a socket file nobody answers on, and removes it at
  exit; it looks PROGRAM up at start, not at the first connection;
- it ignores SYSTEMD_LOG_LEVEL and SYSTEMD_LOG_TIME, and words its setup
  errors its own way;
- with --accept it waits for its programs after a signal before it dies
  of the signal.
Where a parent cannot do what systemd-socket-activate does by becoming
PROGRAM: outside Linux a signal other than HUP, INT, TERM or KILL that
kills PROGRAM, or comes while none runs, gives status 128+N, not death by
that signal; a signal sent to the whole process group reaches PROGRAM
twice; signals
but HUP and INT ignored at start are not kept ignored; PIPE (ignored),
TSTP, TTIN, TTOU and CONT are not passed on; outside Linux and FreeBSD
PROGRAM outlives a killed socket-activate.
`
)

// usage is printed by -h and --help.
var usage = usageHead + optionHelp(optionTable) + usageTail

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
	socketMode    uint32        // of unix socket files
	watch         []string      // paths to watch for changes
	build         string        // the command to run after a change
	argv          []string      // PROGRAM and its arguments

	getenv func(string) string // supplies the values of -E VAR
}

// An option is one entry of optionTable: the parser, --help and the
// documentation all read it.
type option struct {
	long  string // the name after "--"
	short byte   // the letter after "-", or 0
	arg   string // the value's name in --help, such as "ADDR"; "" for a flag
	// systemd marks the options systemd-socket-activate has: an
	// abbreviation it accepts keeps its meaning here, even where one of
	// socket-activate's own options shares the prefix.
	systemd bool
	// alias names the option this one is another name for, with the same
	// flag or value function; an alias is not shown in --help.
	alias string
	doc   string // --help's text; "\n" starts a new line

	flag  func(o *options)                 // for an option without a value
	value func(o *options, v string) error // for an option with one
}

// optionTable lists every option, in the order of --help. The options of
// systemd-socket-activate come first, in its order, which the list of
// possibilities for an ambiguous abbreviation follows as getopt_long's
// does. Adding an option is adding an entry here.
var optionTable = []option{
	{long: "help", short: 'h', systemd: true, doc: "Show this help and exit",
		flag: func(o *options) { o.help = true }},
	{long: "version", systemd: true, doc: "Print the version and exit",
		flag: func(o *options) { o.version = true }},
	{long: "datagram", short: 'd', systemd: true, doc: "Listen on datagram sockets instead of stream sockets",
		flag: func(o *options) { o.datagram = true }},
	{long: "seqpacket", systemd: true, doc: "Listen on SOCK_SEQPACKET sockets (unix addresses)",
		flag: func(o *options) { o.seqpacket = true }},
	{long: "listen", short: 'l', arg: "ADDR", systemd: true, doc: "Listen on ADDR (repeatable; fds 3, 4, ... in order)",
		value: func(o *options, v string) error { o.listen = append(o.listen, v); return nil }},
	{long: "accept", short: 'a', systemd: true, doc: "Accept each connection and start one PROGRAM per\nconnection, with the connection on fd 3",
		flag: func(o *options) { o.accept = true }},
	{long: "setenv", short: 'E', arg: "VAR[=VALUE]", systemd: true, doc: "Pass VAR to PROGRAM (VAR alone copies our value)",
		value: (*options).addEnv},
	{long: "environment", arg: "VAR[=VALUE]", systemd: true, alias: "setenv", value: (*options).addEnv},
	{long: "fdname", arg: "NAME[:NAME...]", systemd: true, doc: "Name the fds in LISTEN_FDNAMES: one name for\nall, or one per fd (another count is an error)",
		value: (*options).addNames},
	{long: "inetd", systemd: true, doc: "Pass the socket as stdin and stdout instead,\nwithout LISTEN_* variables",
		flag: func(o *options) { o.inetd = true }},
	{long: "now", doc: "Start PROGRAM at once, not at the first\nconnection or datagram",
		flag: func(o *options) { o.now = true }},
	{long: "restart", doc: "Start PROGRAM again when it exits (at the next\nconnection, or at once with --now) or when\nsocket-activate gets SIGHUP; the sockets stay open",
		flag: func(o *options) { o.restart = true }},
	{long: "notify", doc: "Give PROGRAM a NOTIFY_SOCKET and be its service\nmanager, as for a systemd Type=notify service:\nprint its state as it changes, and keep fds sent\nwith FDSTORE=1 for the next start (an fd that\nhangs up is dropped, unless sent with FDPOLL=0)",
		flag: func(o *options) { o.notify = true }},
	{long: "timeout-start-sec", arg: "SEC", doc: "With --notify, stop PROGRAM with SIGTERM (SIGKILL\n10 s later) when it has not sent READY=1 within\nSEC, which EXTEND_TIMEOUT_USEC= extends; the run\nfails (default: no limit)",
		value: func(o *options, v string) error { return o.setTimespan(&o.timeoutStart, "timeout-start-sec", v) }},
	{long: "watchdog-sec", arg: "SEC", doc: "With --notify, set WATCHDOG_USEC and WATCHDOG_PID;\nfrom READY=1 on, SEC without a WATCHDOG=1, or a\nWATCHDOG=trigger, sends SIGABRT (SIGKILL 10 s\nlater) and the run fails (default: no watchdog)",
		value: func(o *options, v string) error { return o.setTimespan(&o.watchdog, "watchdog-sec", v) }},
	{long: "notify-access", arg: "main|exec|all", doc: "With --notify, whose messages count: main (the\ndefault), PROGRAM's alone; exec, the same here;\nall, those of its child processes too. Others\nare dropped with a warning. Only Linux and\nFreeBSD tell who sent a message: elsewhere only\nall works, and is the default",
		value: (*options).setNotifyAccess},
	{long: "fdstore-max", arg: "N", doc: "With --notify, keep at most N fds (default 256);\nPROGRAM gets FDSTORE=N; 0 turns the store off",
		value: (*options).setFDStoreMax},
	{long: "socket-mode", arg: "MODE", doc: "Give unix socket files MODE (octal, default\n0644 whatever the umask)",
		value: (*options).setSocketMode},
	{long: "watch", arg: "PATH", doc: "Watch PATH, a directory (with all under it) or a\nfile (repeatable); on a change run --build, then\nstart PROGRAM anew on the same sockets and stop\nthe one that runs (implies --now)",
		value: func(o *options, v string) error { o.watch = append(o.watch, v); return nil }},
	{long: "build", arg: "CMD", doc: "With --watch: run CMD with sh -c at start and\nafter each change; PROGRAM starts anew only\nwhen CMD succeeds, else the one that runs stays",
		value: func(o *options, v string) error { o.build = v; return nil }},
}

// defaultSocketMode is the mode of unix socket files, as
// systemd-socket-activate makes them: anyone may read, only the owner
// may connect.
const defaultSocketMode = 0o644

// errUsage marks errors in the command line.
var errUsage = errors.New("see --help")

// getoptError is a command-line error worded as getopt_long words it.
type getoptError string

func (e getoptError) Error() string { return string(e) }
func (e getoptError) Unwrap() error { return errUsage }

// parseArgs parses args (without the command name) as getopt_long does
// with a leading "+", and with its messages: options stop at the first
// argument that is not an option, or after "--". Short options may be
// bundled (-ad) and take their value attached (-l8080) or as the next
// argument; long options take it after "=" or as the next argument, and
// may be abbreviated to any unique prefix (--acc, --fdn=web). getenv
// supplies the values for -E VAR.
//
// As systemd-socket-activate's parser, it returns at -h, --help or
// --version, leaving the rest unread, and reports a bad value, or
// --datagram with --seqpacket, at the option that makes it so.
func parseArgs(args []string, getenv func(string) string) (*options, error) {
	o := &options{socketMode: defaultSocketMode, fdstoreMax: maxStored, getenv: getenv}
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
		if strings.HasPrefix(arg, "--") {
			name, inline, hasInline := strings.Cut(arg[2:], "=")
			opt, err := lookupLong(optionTable, name, arg)
			if err != nil {
				return nil, err
			}
			if opt.flag != nil {
				if hasInline {
					return nil, getoptError(fmt.Sprintf("option '--%s' doesn't allow an argument", opt.long))
				}
				if done, err := o.setFlag(opt); done || err != nil {
					return o, err
				}
				continue
			}
			if !hasInline {
				if i+1 >= len(args) {
					return nil, getoptError(fmt.Sprintf("option '--%s' requires an argument", opt.long))
				}
				i++
				inline = args[i]
			}
			if err := opt.value(o, inline); err != nil {
				return nil, err
			}
			continue
		}
		// A bundle of short options; one that takes a value ends it.
		for j := 1; j < len(arg); j++ {
			opt := lookupShort(arg[j])
			if opt == nil {
				return nil, getoptError(fmt.Sprintf("invalid option -- '%c'", arg[j]))
			}
			if opt.flag != nil {
				if done, err := o.setFlag(opt); done || err != nil {
					return o, err
				}
				continue
			}
			v := arg[j+1:]
			if v == "" {
				if i+1 >= len(args) {
					return nil, getoptError(fmt.Sprintf("option requires an argument -- '%c'", arg[j]))
				}
				i++
				v = args[i]
			}
			if err := opt.value(o, v); err != nil {
				return nil, err
			}
			break
		}
	}
	return o, o.check()
}

// setFlag records the flag opt. It reports whether parsing is done: at
// --help and --version, which act at once.
func (o *options) setFlag(opt *option) (done bool, err error) {
	opt.flag(o)
	if o.datagram && o.seqpacket {
		return false, fmt.Errorf("--datagram and --seqpacket cannot be combined (%w)", errUsage)
	}
	return o.help || o.version, nil
}

// lookupLong finds the option of table that name, the text of arg between
// "--" and any "=", selects: the option of that name, or else the one option whose
// name starts with it, as getopt_long finds it. An alias and the option it
// names count as one. When the prefix fits several options and exactly
// one of them is an option of systemd-socket-activate, that one is taken,
// so that its abbreviations mean here what they mean there; when several
// of them are, the error lists those, as systemd-socket-activate's does.
func lookupLong(table []option, name, arg string) (*option, error) {
	// As getopt_long, keep the first match and every later one that is
	// not the same option as the first.
	var found []*option
	for i := range table {
		opt := &table[i]
		if opt.long == name {
			return opt, nil
		}
		if strings.HasPrefix(opt.long, name) && (len(found) == 0 || opt.target() != found[0].target()) {
			found = append(found, opt)
		}
	}
	// Among several, systemd-socket-activate's options decide: one of
	// them is taken, and two or more are ambiguous as they are there.
	if systemd := systemdTargets(found); len(found) > 1 && len(systemd) == 1 {
		return systemd[0], nil
	} else if len(systemd) > 1 {
		found = systemd
	}
	switch len(found) {
	case 0:
		return nil, getoptError(fmt.Sprintf("unrecognized option '%s'", arg))
	case 1:
		return found[0], nil
	}
	msg := fmt.Sprintf("option '%s' is ambiguous; possibilities:", arg)
	for _, opt := range found {
		msg += " '--" + opt.long + "'"
	}
	return nil, getoptError(msg)
}

// systemdTargets returns the options of systemd-socket-activate in found,
// one per option they stand for.
func systemdTargets(found []*option) []*option {
	var sd []*option
	for _, opt := range found {
		if opt.systemd && !slices.ContainsFunc(sd, func(s *option) bool { return s.target() == opt.target() }) {
			sd = append(sd, opt)
		}
	}
	return sd
}

// target is the long name of the option opt stands for.
func (opt *option) target() string {
	if opt.alias != "" {
		return opt.alias
	}
	return opt.long
}

// lookupShort returns the option with the letter c, or nil.
func lookupShort(c byte) *option {
	for i := range optionTable {
		if c != 0 && optionTable[i].short == c {
			return &optionTable[i]
		}
	}
	return nil
}

// optionHelp formats the options of table for --help: the option in the
// first 30 columns, its text after; an option too long for them has its
// text on the lines below.
func optionHelp(table []option) string {
	const column = 30
	var b strings.Builder
	for _, opt := range table {
		if opt.alias != "" {
			continue
		}
		left := "      --" + opt.long
		if opt.short != 0 {
			left = "  -" + string(opt.short) + ", --" + opt.long
		}
		if opt.arg != "" {
			left += "=" + opt.arg
		}
		b.WriteString(left)
		if len(left) >= column {
			b.WriteString("\n")
		}
		for i, line := range strings.Split(opt.doc, "\n") {
			if i == 0 && len(left) < column {
				b.WriteString(strings.Repeat(" ", column-len(left)))
			} else {
				b.WriteString(strings.Repeat(" ", column))
			}
			b.WriteString(line)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// addEnv records -E VAR=VALUE, or -E VAR with our value of VAR. It
// refuses what systemd-socket-activate refuses: a name that is not
// letters, digits and "_", or starts with a digit, and a VALUE that is not
// UTF-8 text; our own value of VAR is taken as it is.
func (o *options) addEnv(v string) error {
	key, val, ok := strings.Cut(v, "=")
	switch {
	case !assignableName(key):
		return fmt.Errorf("cannot assign environment variable %q: a name is letters, digits and \"_\", not starting with a digit (%w)", v, errUsage)
	case ok && !assignableValue(val):
		return fmt.Errorf("cannot assign environment variable %q: the value is not UTF-8 text (%w)", v, errUsage)
	case !ok:
		val = o.getenv(key)
	}
	o.setenv = setEnv(o.setenv, key, val)
	return nil
}

// assignableName reports whether name is a variable name systemd lets -E
// set (env_name_is_valid): letters, digits and "_", not starting with a
// digit.
func assignableName(name string) bool {
	for i, c := range []byte(name) {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return name != ""
}

// assignableValue reports whether v is a value systemd lets -E set
// (env_value_is_valid): UTF-8 text, control characters included, with
// no surrogate and no noncharacter (U+FDD0 to U+FDEF, and the last two
// code points of each plane), which systemd's UTF-8 check refuses.
func assignableValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

// setSocketMode records --socket-mode: an octal mode, at most 0777.
func (o *options) setSocketMode(v string) error {
	mode, err := strconv.ParseUint(v, 8, 32)
	if err != nil || mode > 0o777 {
		return fmt.Errorf("bad mode %q in --socket-mode: an octal number from 0 to 0777 (%w)", v, errUsage)
	}
	o.socketMode = uint32(mode)
	return nil
}

// setTimespan records the time span v, of the option name, in d.
func (o *options) setTimespan(d *time.Duration, name, v string) error {
	span, err := parseTimespan(v)
	if err != nil {
		return fmt.Errorf("bad value %q for --%s: %v; want seconds, a span such as 500ms or 1min 30s, or infinity (%w)", v, name, err, errUsage)
	}
	*d = span
	o.needsNotify(name)
	return nil
}

// setNotifyAccess records --notify-access.
func (o *options) setNotifyAccess(v string) error {
	if v != "main" && v != "exec" && v != "all" {
		return fmt.Errorf("bad value %q for --notify-access: want main, exec or all (%w)", v, errUsage)
	}
	o.notifyAccess = v
	o.needsNotify("notify-access")
	return nil
}

// setFDStoreMax records --fdstore-max: a number of fds.
func (o *options) setFDStoreMax(v string) error {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return fmt.Errorf("bad value %q for --fdstore-max: want a number of fds, 0 for no store (%w)", v, errUsage)
	}
	o.fdstoreMax = int(n)
	o.needsNotify("fdstore-max")
	return nil
}

// needsNotify records that the option name was given, which means
// nothing without --notify.
func (o *options) needsNotify(name string) {
	o.notifyOnly = append(o.notifyOnly, "--"+name)
}

// addNames records the names of one --fdname, split as
// systemd-socket-activate splits them: at each ":", with no escapes, empty
// names dropped, and one empty name if no other is left.
func (o *options) addNames(v string) error {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ':' })
	if len(names) == 0 {
		names = []string{""}
	}
	for _, n := range names {
		if fdname.Check(n) != nil {
			return fmt.Errorf("bad fd name %q in --fdname: at most 255 printable ASCII characters (%w)", n, errUsage)
		}
		o.fdnames = append(o.fdnames, n)
	}
	return nil
}

// check reports combinations of options that cannot work whatever the
// sockets; newActivator checks the rest once it knows how many fds were
// passed in.
func (o *options) check() error {
	switch {
	case len(o.notifyOnly) > 0 && !o.notify:
		return fmt.Errorf("%s needs --notify: it sets how socket-activate handles the program's notifications (%w)", o.notifyOnly[0], errUsage)
	case len(o.argv) == 0:
		return fmt.Errorf("no program to run given (%w)", errUsage)
	case o.datagram && o.accept:
		return fmt.Errorf("datagram sockets do not accept connections: --datagram and --accept cannot be combined (%w)", errUsage)
	case o.accept && (o.restart || o.notify || o.now || o.watch != nil):
		return fmt.Errorf("--accept starts one program per connection: it cannot be combined with --restart, --notify, --now or --watch (%w)", errUsage)
	case o.build != "" && o.watch == nil:
		return fmt.Errorf("--build runs after changes under --watch: give --watch PATH too (%w)", errUsage)
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
