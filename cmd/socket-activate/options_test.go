//go:build unix

package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-activation/activation/internal/fdname"
	"golang.org/x/sys/unix"
)

func TestParseArgs(t *testing.T) {
	getenv := func(key string) string {
		return map[string]string{"HOME": "/home/u"}[key]
	}
	tests := []struct {
		name string
		args []string
		want options
	}{{
		name: "short options take their value as the next argument or attached",
		args: []string{"-l", "8080", "-l/run/s", "-E", "A=1", "-EB=2", "prog", "arg"},
		want: options{listen: []string{"8080", "/run/s"}, setenv: []string{"A=1", "B=2"}, argv: []string{"prog", "arg"}},
	}, {
		name: "long options take their value after = or as the next argument",
		args: []string{"--listen=8080", "--listen", "[::1]:0", "--setenv=A=1", "--fdname", "a:b", "prog"},
		want: options{listen: []string{"8080", "[::1]:0"}, setenv: []string{"A=1"}, fdnames: []string{"a", "b"}, argv: []string{"prog"}},
	}, {
		name: "short flags bundle, the last one may take a value",
		args: []string{"-dl", "80", "prog"},
		want: options{datagram: true, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "-h acts at once, in a bundle too: what follows is not read",
		args: []string{"-dhx", "--bogus", "-l"},
		want: options{help: true, datagram: true},
	}, {
		name: "--version acts at once, abbreviated too",
		args: []string{"--vers", "--bogus=1", "-E", "=x"},
		want: options{version: true},
	}, {
		name: "options stop at the program, whose own options are left alone",
		args: []string{"-l", "80", "--now", "prog", "-l", "--restart"},
		want: options{listen: []string{"80"}, now: true, argv: []string{"prog", "-l", "--restart"}},
	}, {
		name: "-- ends the options",
		args: []string{"-l", "80", "--", "-prog"},
		want: options{listen: []string{"80"}, argv: []string{"-prog"}},
	}, {
		name: "-E VAR copies the variable, an unset one as empty, and a later -E replaces an earlier",
		args: []string{"-E", "HOME", "-E", "UNSET", "-E", "A=1", "-E", "A=2", "-l", "80", "prog"},
		want: options{setenv: []string{"HOME=/home/u", "UNSET=", "A=2"}, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "--fdname adds up, splits at colons and drops empty names, but an --fdname with none gives one",
		args: []string{"--fdname=a", "--fdname=b::c", "--fdname=", "--fdname=:d:", "--fdname=:", "-l", "80", "prog"},
		want: options{fdnames: []string{"a", "b", "c", "", "d", ""}, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "-E takes names of letters, digits and _, and values with control characters or U+FFFD",
		args: []string{"-E", "_a1=x", "-E", "A=\x01\t\n\x7f\ufffd\U0001f600", "-E", "B==", "-l", "80", "prog"},
		want: options{setenv: []string{"_a1=x", "A=\x01\t\n\x7f\ufffd\U0001f600", "B=="}, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "--fdname knows no escapes",
		args: []string{`--fdname=a\:b`, "-l", "80", "prog"},
		want: options{fdnames: []string{`a\`, "b"}, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "every boolean option is read",
		args: []string{"--seqpacket", "--inetd", "--now", "--restart", "--notify", "-l", "/s", "prog"},
		want: options{seqpacket: true, inetd: true, now: true, restart: true, notify: true, listen: []string{"/s"}, argv: []string{"prog"}},
	}, {
		name: "--notify --now need no -l: the program stores its own sockets",
		args: []string{"--notify", "--now", "--restart", "prog"},
		want: options{notify: true, now: true, restart: true, argv: []string{"prog"}},
	}, {
		name: "a long option may be abbreviated to a unique prefix",
		args: []string{"--list=80", "--acc", "--fdn", "web", "--inet", "prog"},
		want: options{listen: []string{"80"}, accept: true, fdnames: []string{"web"}, inetd: true, argv: []string{"prog"}},
	}, {
		name: "an exact name wins over longer names it starts",
		args: []string{"--now", "--notify", "-l", "80", "prog"},
		want: options{now: true, notify: true, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "--environment is the older name of --setenv, and --e abbreviates it",
		args: []string{"--environment=A=1", "--e", "B=2", "--env=C", "-l", "80", "prog"},
		want: options{setenv: []string{"A=1", "B=2", "C="}, listen: []string{"80"}, argv: []string{"prog"}},
	}, {
		name: "a long option takes the next argument as its value even if it starts with -",
		args: []string{"--listen", "-80", "--fdname", "--now", "prog"},
		want: options{listen: []string{"-80"}, fdnames: []string{"--now"}, argv: []string{"prog"}},
	}, {
		name: "--socket-mode is octal, with or without a leading 0",
		args: []string{"--socket-mode=0600", "--socket-mode", "660", "-l", "/s", "prog"},
		want: options{socketMode: 0o660, listen: []string{"/s"}, argv: []string{"prog"}},
	}, {
		name: "--watch adds up, and the last --build counts",
		args: []string{"--watch", "src", "--watch=go.mod", "--build=false", "--build", "go build -o app .", "-l", "80", "./app"},
		want: options{watch: []string{"src", "go.mod"}, build: "go build -o app .", listen: []string{"80"}, argv: []string{"./app"}},
	}, {
		name: "help needs nothing else",
		args: []string{"-h"},
		want: options{help: true},
	}, {
		name: "version needs nothing else",
		args: []string{"--version"},
		want: options{version: true},
	}}
	for _, tt := range tests {
		if tt.want.socketMode == 0 {
			tt.want.socketMode = defaultSocketMode
		}
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, getenv)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if d := diff(optionsView(&tt.want), optionsView(got)); d != "" {
				t.Errorf("parseArgs(%q):\n%s", tt.args, d)
			}
		})
	}
}

// optionsView shows options with exported fields, for diff.
func optionsView(o *options) map[string]any {
	return map[string]any{
		"help": o.help, "version": o.version, "listen": o.listen, "datagram": o.datagram,
		"seqpacket": o.seqpacket, "accept": o.accept, "setenv": o.setenv, "fdnames": o.fdnames,
		"inetd": o.inetd, "now": o.now, "restart": o.restart, "notify": o.notify, "argv": o.argv,
		"socketMode": fmt.Sprintf("%#o", o.socketMode), "watch": o.watch, "build": o.build,
	}
}

func TestParseArgsRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown long option", []string{"--listen-all", "prog"}, "unrecognized option '--listen-all'"},
		{"an unknown long option with a value, quoted whole", []string{"--bogus=1", "prog"}, "unrecognized option '--bogus=1'"},
		{"an unknown short option", []string{"-x", "prog"}, "invalid option -- 'x'"},
		{"an unknown short option in a bundle", []string{"-ax", "prog"}, "invalid option -- 'x'"},
		{"a NUL byte, which is no option letter", []string{"-\x00", "prog"}, "invalid option -- '\x00'"},
		{"-l at the end without a value", []string{"-l"}, "option requires an argument -- 'l'"},
		{"--listen at the end without a value", []string{"--listen"}, "option '--listen' requires an argument"},
		{"an abbreviation at the end without a value, named in full", []string{"--fdn"}, "option '--fdname' requires an argument"},
		{"a value given to a flag", []string{"--now=1", "-l", "80", "prog"}, "option '--now' doesn't allow an argument"},
		{"a value given to an abbreviated flag, named in full", []string{"--acc=1", "-l", "80", "prog"}, "option '--accept' doesn't allow an argument"},
		{"an abbreviation of two of systemd-socket-activate's options", []string{"--se", "prog"}, "option '--se' is ambiguous; possibilities: '--seqpacket' '--setenv'"},
		{"an ambiguous abbreviation with a value, quoted whole", []string{"--se=1", "prog"}, "option '--se=1' is ambiguous; possibilities: '--seqpacket' '--setenv'"},
		{"an abbreviation of two of socket-activate's own options", []string{"--n", "prog"}, "option '--n' is ambiguous; possibilities: '--now' '--notify' '--notify-access'"},
		{"an empty variable name", []string{"-E", "=1", "-l", "80", "prog"}, `cannot assign environment variable "=1": a name is letters, digits and "_", not starting with a digit (see --help)`},
		{"a name starting with a digit", []string{"-E", "1A=x", "-l", "80", "prog"}, `cannot assign environment variable "1A=x": a name is letters, digits and "_", not starting with a digit (see --help)`},
		{"a name with a dash, to be copied", []string{"-E", "A-B", "-l", "80", "prog"}, `cannot assign environment variable "A-B": a name is letters, digits and "_", not starting with a digit (see --help)`},
		{"a name with a letter outside ASCII", []string{"-E", "Ä=x", "-l", "80", "prog"}, `cannot assign environment variable "Ä=x": a name is letters, digits and "_", not starting with a digit (see --help)`},
		{"a value that is not UTF-8", []string{"-E", "A=\xff", "-l", "80", "prog"}, `cannot assign environment variable "A=\xff": the value is not UTF-8 text (see --help)`},
		{"a value with a surrogate", []string{"-E", "A=\xed\xa0\x80", "-l", "80", "prog"}, `cannot assign environment variable "A=\xed\xa0\x80": the value is not UTF-8 text (see --help)`},
		{"a value with a noncharacter", []string{"-E", "A=\ufdd0", "-l", "80", "prog"}, `cannot assign environment variable "A=\ufdd0": the value is not UTF-8 text (see --help)`},
		{"a value with a plane's last code point", []string{"-E", "A=x\U0010ffff", "-l", "80", "prog"}, `cannot assign environment variable "A=x\U0010ffff": the value is not UTF-8 text (see --help)`},
		{"a name with a control character", []string{"--fdname=a\tb", "-l", "80", "prog"}, `bad fd name "a\tb" in --fdname: at most 255 printable ASCII characters (see --help)`},
		{"a socket mode that is not octal", []string{"--socket-mode=0x1ff", "-l", "/s", "prog"}, `bad mode "0x1ff" in --socket-mode: an octal number from 0 to 0777 (see --help)`},
		{"a socket mode above 0777", []string{"--socket-mode=1777", "-l", "/s", "prog"}, `bad mode "1777" in --socket-mode: an octal number from 0 to 0777 (see --help)`},
		{"a name longer than 255 bytes", []string{"--fdname=" + strings.Repeat("n", 256), "-l", "80", "prog"}, `bad fd name "` + strings.Repeat("n", 256) + `" in --fdname: at most 255 printable ASCII characters (see --help)`},
		{"--accept with --watch", []string{"-a", "--watch=.", "-l", "80", "prog"}, "--accept starts one program per connection: it cannot be combined with --restart, --notify, --now or --watch (see --help)"},
		{"--build without --watch", []string{"--build=make", "-l", "80", "prog"}, "--build runs after changes under --watch: give --watch PATH too (see --help)"},
		{"--datagram with --seqpacket", []string{"-d", "--seqpacket", "-l", "80", "prog"}, "--datagram and --seqpacket cannot be combined (see --help)"},
		{"--datagram with --seqpacket before --help", []string{"--seqpacket", "-d", "--help"}, "--datagram and --seqpacket cannot be combined (see --help)"},
		{"an unknown option before --help", []string{"--bogus", "--help"}, "unrecognized option '--bogus'"},
		{"--accept with --restart", []string{"-a", "--restart", "-l", "80", "prog"}, "--accept starts one program per connection: it cannot be combined with --restart, --notify, --now or --watch (see --help)"},
		{"no -l with --notify --now but without a program", []string{"--notify", "--now"}, "no program to run given (see --help)"},
		{"no -l with --notify --now --accept", []string{"--notify", "--now", "-a", "prog"}, "--accept starts one program per connection: it cannot be combined with --restart, --notify, --now or --watch (see --help)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args, func(string) string { return "" })
			if err == nil || err.Error() != tt.want || !errors.Is(err, errUsage) {
				t.Errorf("parseArgs(%q) = %v, want %q wrapping errUsage", tt.args, err, tt.want)
			}
		})
	}
}

func TestAbbreviationsOfSystemdOptionsKeepTheirMeaning(t *testing.T) {
	// --fdstore-max, socket-activate's own, shares a prefix with
	// systemd-socket-activate's --fdname, and --socket-mode one with
	// --seqpacket and --setenv.
	table := optionTable
	tests := []struct {
		arg, want string // want: the option found, or the error
	}{
		{"--f", "fdname"},
		{"--fd", "fdname"},
		{"--fdn", "fdname"},
		{"--fds", "fdstore-max"},
		{"--fdstore-max", "fdstore-max"},
		{"--s", "option '--s' is ambiguous; possibilities: '--seqpacket' '--setenv'"},
		{"--so", "socket-mode"},
		{"--e", "environment"},
	}
	for _, tt := range tests {
		t.Run(tt.arg+" is "+tt.want, func(t *testing.T) {
			name, _, _ := strings.Cut(tt.arg[2:], "=")
			opt, err := lookupLong(table, name, tt.arg)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = opt.long
			}
			if got != tt.want {
				t.Errorf("lookupLong(%q) = %q, want %q", tt.arg, got, tt.want)
			}
		})
	}
}

func TestOptionTable(t *testing.T) {
	seen := map[string]bool{}
	for _, opt := range optionTable {
		t.Run("--"+opt.long, func(t *testing.T) {
			if seen[opt.long] || (opt.short != 0 && seen[string(opt.short)]) {
				t.Errorf("--%s or -%c is in the table twice", opt.long, opt.short)
			}
			seen[opt.long], seen[string(opt.short)] = true, opt.short != 0
			if (opt.flag == nil) == (opt.value == nil) {
				t.Errorf("--%s needs exactly one of flag and value", opt.long)
			}
			if (opt.value != nil) != (opt.arg != "") {
				t.Errorf("--%s: a value needs a name in --help, and a flag none", opt.long)
			}
			if opt.alias == "" && opt.doc == "" {
				t.Errorf("--%s has no text for --help", opt.long)
			}
			if opt.alias != "" && !slices.ContainsFunc(optionTable, func(o option) bool { return o.long == opt.alias && o.alias == "" }) {
				t.Errorf("--%s is an alias of --%s, which is not in the table", opt.long, opt.alias)
			}
		})
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add("-l\x008080\x00--fdname=a:b\x00-adE\x00X\x00--\x00prog")
	f.Add("--listen\x00\x00--setenv=\x00-h")
	f.Add("--notify\x00--now\x00--restart\x00prog")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		o, err := parseArgs(args, func(string) string { return "v" })
		if err != nil {
			if !errors.Is(err, errUsage) {
				t.Errorf("parseArgs(%q): error %v does not wrap errUsage", args, err)
			}
			return
		}
		if o.help || o.version {
			return
		}
		if len(o.argv) == 0 {
			t.Errorf("parseArgs(%q) accepted no program: %+v", args, o)
		}
		for _, n := range o.fdnames {
			if fdname.Check(n) != nil {
				t.Errorf("parseArgs(%q) accepted fd name %q", args, n)
			}
		}
	})
}

func TestCheckSockets(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		passed int    // fds passed in LISTEN_FDS
		want   string // "" for no error
	}{
		{"an -l socket", []string{"-l", "80", "prog"}, 0, ""},
		{"fds passed in need no -l", []string{"prog"}, 2, ""},
		{"fds passed in need no -l for --datagram, which types -l sockets only", []string{"-d", "prog"}, 1, ""},
		{"--seqpacket without a socket", []string{"--seqpacket", "prog"}, 0, "no socket to listen on: give at least one -l ADDR, pass sockets in LISTEN_FDS, or give --notify --now for a program that keeps its own sockets in the fd store (see --help)"},
		{"fds passed in and an -l socket with --inetd are two", []string{"--inetd", "-l", "80", "prog"}, 1, "--inetd without --accept needs exactly one socket, and there are 2 (see --help)"},
		{"one fd passed in with --inetd", []string{"--inetd", "prog"}, 1, ""},
		{"--notify --now need no socket", []string{"--notify", "--now", "prog"}, 0, ""},
		{"no socket", []string{"--now", "--restart", "prog"}, 0, "no socket to listen on: give at least one -l ADDR, pass sockets in LISTEN_FDS, or give --notify --now for a program that keeps its own sockets in the fd store (see --help)"},
		{"no socket with --notify but without --now", []string{"--notify", "--restart", "prog"}, 0, "--notify without sockets needs --now: there is no socket to wait on for a first connection (see --help)"},
		{"no socket with --fdname", []string{"--notify", "--now", "--fdname=web", "prog"}, 0, "--fdname names sockets, and there are none; the program names the fds it stores with FDNAME (see --help)"},
		{"no socket with --inetd", []string{"--notify", "--now", "--inetd", "prog"}, 0, "--accept and --inetd need a socket: give -l ADDR or pass one in LISTEN_FDS (see --help)"},
		{"no socket with --accept", []string{"-a", "prog"}, 0, "--accept and --inetd need a socket: give -l ADDR or pass one in LISTEN_FDS (see --help)"},
		{"one name for three sockets", []string{"--fdname=web", "-l", "80", "-l", "81", "prog"}, 1, ""},
		{"a name for each of three sockets, passed ones first", []string{"--fdname=a:b:c", "-l", "80", "-l", "81", "prog"}, 1, ""},
		{"a name for each -l socket but not for the one passed in", []string{"--fdname=a:b", "-l", "80", "-l", "81", "prog"}, 1, "--fdname gives 2 names for 3 sockets: give one name for each socket, in order, or one for all; a program would refuse a LISTEN_FDNAMES that does not name each fd (see --help)"},
		{"more names than sockets", []string{"--fdname=a:b:c", "-l", "80", "prog"}, 0, "--fdname gives 3 names for 1 socket: give one name for each socket, in order, or one for all; a program would refuse a LISTEN_FDNAMES that does not name each fd (see --help)"},
		{"a name for each listening socket with --accept", []string{"-a", "--fdname=a:b", "-l", "80", "-l", "81", "prog"}, 0, ""},
		{"too few names with --accept", []string{"-a", "--fdname=a:b", "-l", "80", "-l", "81", "prog"}, 1, "--fdname gives 2 names for 3 sockets: give one name for each socket, in order, or one for all; a program would refuse a LISTEN_FDNAMES that does not name each fd (see --help)"},
		{"any number of names with --inetd, which passes none", []string{"--inetd", "--fdname=a:b", "-l", "80", "prog"}, 0, ""},
		{"empty names are dropped before they are counted", []string{"--fdname=a::b:", "-l", "80", "-l", "81", "prog"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			err = checkSockets(o, tt.passed)
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, errUsage) {
					t.Errorf("error %v does not wrap errUsage", err)
				}
			}
			if got != tt.want {
				t.Errorf("checkSockets(%q, %d passed) = %q, want %q", tt.args, tt.passed, got, tt.want)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want string // formatSockaddr of the result, then the family
		dual bool
	}{
		{"8080", "[::]:8080 inet6", true},
		{"0", "[::]:0 inet6", true},
		{"127.0.0.1:80", "127.0.0.1:80 inet", false},
		{"[::1]:443", "[::1]:443 inet6", false},
		{"[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.1]:1 inet6", false},
		{"/run/app.sock", "/run/app.sock unix", false},
	}
	family := map[int]string{unix.AF_INET: "inet", unix.AF_INET6: "inet6", unix.AF_UNIX: "unix"}
	for _, tt := range tests {
		t.Run(tt.in+" is "+tt.want, func(t *testing.T) {
			a, err := parseAddress(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := formatSockaddr(a.sa) + " " + family[a.family]; got != tt.want || a.dualStack != tt.dual {
				t.Errorf("parseAddress(%q) = %s, dual stack %v; want %s, %v", tt.in, got, a.dualStack, tt.want, tt.dual)
			}
		})
	}
	bad := []struct{ in, want string }{
		{"", "empty address"},
		{"65536", "port out of range 0-65535"},
		{"localhost:80", "not PORT, IP:PORT, [IPv6]:PORT, /path or @name"},
		{"1.2.3.4", "not PORT, IP:PORT, [IPv6]:PORT, /path or @name"},
		{"::1:80", "not PORT, IP:PORT, [IPv6]:PORT, /path or @name"},
		{"vsock:2:80", "vsock addresses are not supported"},
		{"/" + strings.Repeat("p", maxUnixPath), "unix socket path is " + strconv.Itoa(maxUnixPath+1) + " bytes long, the limit is " + strconv.Itoa(maxUnixPath-1)},
	}
	for _, tt := range bad {
		t.Run(tt.in+" is rejected", func(t *testing.T) {
			if _, err := parseAddress(tt.in); err == nil || err.Error() != tt.want {
				t.Errorf("parseAddress(%q) = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFreshEnvKeepsOnlyTermPathUserHome(t *testing.T) {
	ours := map[string]string{"TERM": "xterm", "PATH": "/bin", "HOME": "/home/u", "SECRET": "1"}
	lookup := func(k string) (string, bool) { v, ok := ours[k]; return v, ok }
	got := freshEnv(lookup)
	want := []string{"TERM=xterm", "PATH=/bin", "HOME=/home/u"}
	if d := diff(want, got); d != "" {
		t.Errorf("freshEnv:\n%s", d)
	}
}

func TestCommandLineQuotesWhatAShellWould(t *testing.T) {
	got := commandLine([]string{"./srv", "-addr=:80", "two words", "", `a"b`})
	want := `./srv -addr=:80 "two words" "" "a\"b"`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}

func TestBadPassedNames(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     map[string]string
		bad     bool
		warning string
	}{
		{"no names", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2"}, false, ""},
		{"a name for each fd", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2", "LISTEN_FDNAMES": `a\:b:c`}, false, ""},
		{"an empty name for one fd", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "1", "LISTEN_FDNAMES": ""}, false, ""},
		{"two names for one fd", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"}, true,
			`LISTEN_FDNAMES="a:b" names 2 fds but LISTEN_FDS is 1; the fds passed in are taken unnamed`},
		{"one name for three fds, in systemd's number syntax", map[string]string{"LISTEN_PID": "0x1092", "LISTEN_FDS": " 3", "LISTEN_FDNAMES": "a"}, true,
			`LISTEN_FDNAMES="a" names 1 fd but LISTEN_FDS is 3; the fds passed in are taken unnamed`},
		{"a lone trailing backslash", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "1", "LISTEN_FDNAMES": `a\`}, true,
			`LISTEN_FDNAMES="a\\" ends in a lone backslash; the fds passed in are taken unnamed`},
		{"a lone trailing backslash for another process, dropped without a word", map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": `a\`}, true, ""},
		{"a wrong count for another process", map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"}, false, ""},
		{"a wrong count with a malformed LISTEN_FDS, which is reported as such", map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "x", "LISTEN_FDNAMES": "a:b"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			bad, warning := badPassedNames(getenv, pid)
			if bad != tt.bad || warning != tt.warning {
				t.Errorf("badPassedNames = %v, %q; want %v, %q", bad, warning, tt.bad, tt.warning)
			}
		})
	}
}
