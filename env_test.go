//go:build unix

package activation

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const testPID = 4242

// vars makes an environ from key=value pairs for a process with testPID.
func vars(kv ...string) environ {
	m := make(map[string]string)
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return environ{
		getenv: func(k string) (string, bool) { v, ok := m[k]; return v, ok },
		pid:    testPID,
	}
}

// outcome is what parseEnv and names say, in comparable form.
type outcome struct {
	N     int
	Names []string
	Errno syscall.Errno // 0 when there is no error
	Var   string        // the variable the error names
}

func parse(env environ) outcome {
	le, err := parseEnv(env)
	var names []string
	if err == nil && le.n > 0 && le.n <= 1000 { // naming INT_MAX fds would take 32 GiB
		names, err = le.names(le.n)
	}
	if err != nil {
		o := outcome{Errno: 0}
		if !errors.As(err, &o.Errno) {
			o.Errno = 1 // an error without an errno: the test fails below
		}
		for _, v := range []string{envPID, envPIDFDID, envFDs, envFDNames} {
			if strings.HasPrefix(err.Error(), "activation: "+v+"=") {
				o.Var = v
			}
		}
		return o
	}
	return outcome{N: le.n, Names: names}
}

func unknowns(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "unknown"
	}
	return s
}

var pid = strconv.Itoa(testPID)

func TestParseEnvFollowsLibsystemd(t *testing.T) {
	einval := func(v string) outcome { return outcome{Errno: syscall.EINVAL, Var: v} }
	erange := func(v string) outcome { return outcome{Errno: syscall.ERANGE, Var: v} }
	none := outcome{}
	tests := []struct {
		name string
		env  environ
		want outcome
	}{
		{"no variables means not activated", vars(), none},
		{"LISTEN_FDS without LISTEN_PID means not activated", vars("LISTEN_FDS=1"), none},
		{"LISTEN_PID of another process means not activated", vars("LISTEN_PID=1", "LISTEN_FDS=1"), none},
		{"LISTEN_PID without LISTEN_FDS means not activated", vars("LISTEN_PID=" + pid), none},
		{"our pid and one fd", vars("LISTEN_PID="+pid, "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},

		{"LISTEN_PID abc is invalid", vars("LISTEN_PID=abc", "LISTEN_FDS=1"), einval(envPID)},
		{"an empty LISTEN_PID is invalid", vars("LISTEN_PID=", "LISTEN_FDS=1"), einval(envPID)},
		{"LISTEN_PID 0 is out of range", vars("LISTEN_PID=0", "LISTEN_FDS=1"), erange(envPID)},
		{"LISTEN_PID -1 is out of range", vars("LISTEN_PID=-1", "LISTEN_FDS=1"), erange(envPID)},
		{"LISTEN_PID -0 is out of range", vars("LISTEN_PID=-0", "LISTEN_FDS=1"), erange(envPID)},
		{"LISTEN_PID with leading space is accepted", vars("LISTEN_PID= "+pid, "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PID with a plus sign is accepted", vars("LISTEN_PID=+"+pid, "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PID in hex is accepted", vars(fmt.Sprintf("LISTEN_PID=0x%x", testPID), "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PID in binary is accepted", vars(fmt.Sprintf("LISTEN_PID=0b%b", testPID), "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PID in 0o octal is accepted", vars(fmt.Sprintf("LISTEN_PID=0o%o", testPID), "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PID with a trailing space is invalid", vars("LISTEN_PID="+pid+" ", "LISTEN_FDS=1"), einval(envPID)},
		{"our pid with a leading zero is octal, so not ours", vars("LISTEN_PID=0"+pid, "LISTEN_FDS=1"), none},
		{"LISTEN_PID with a leading zero and an 8 is invalid octal", vars("LISTEN_PID=0128", "LISTEN_FDS=1"), einval(envPID)},
		{"LISTEN_PID with underscores is invalid", vars("LISTEN_PID=4_242", "LISTEN_FDS=1"), einval(envPID)},
		{"LISTEN_PID beyond int range is out of range", vars("LISTEN_PID=4294967296", "LISTEN_FDS=1"), erange(envPID)},
		{"LISTEN_PID beyond 64 bits is out of range", vars("LISTEN_PID=99999999999999999999", "LISTEN_FDS=1"), erange(envPID)},
		{"LISTEN_PID 2^31 is out of range", vars("LISTEN_PID=2147483648", "LISTEN_FDS=1"), erange(envPID)},

		{"LISTEN_FDS abc is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=abc"), einval(envFDs)},
		{"an empty LISTEN_FDS is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS="), einval(envFDs)},
		{"LISTEN_FDS 0 is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=0"), einval(envFDs)},
		{"LISTEN_FDS -1 is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=-1"), einval(envFDs)},
		{"LISTEN_FDS with leading space is accepted", vars("LISTEN_PID="+pid, "LISTEN_FDS= 2"), outcome{N: 2, Names: unknowns(2)}},
		{"LISTEN_FDS with a plus sign is accepted", vars("LISTEN_PID="+pid, "LISTEN_FDS=+2"), outcome{N: 2, Names: unknowns(2)}},
		{"LISTEN_FDS in hex is accepted", vars("LISTEN_PID="+pid, "LISTEN_FDS=0x2"), outcome{N: 2, Names: unknowns(2)}},
		{"LISTEN_FDS 010 is octal eight", vars("LISTEN_PID="+pid, "LISTEN_FDS=010"), outcome{N: 8, Names: unknowns(8)}},
		{"LISTEN_FDS 08 is invalid octal", vars("LISTEN_PID="+pid, "LISTEN_FDS=08"), einval(envFDs)},
		{"LISTEN_FDS with a trailing space is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=2 "), einval(envFDs)},
		{"LISTEN_FDS 0x alone is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=0x"), einval(envFDs)},
		{"LISTEN_FDS 0b alone is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=0b"), einval(envFDs)},
		{"LISTEN_FDS INT_MAX-3 is within range", vars("LISTEN_PID="+pid, "LISTEN_FDS=2147483644"), outcome{N: 2147483644}},
		{"LISTEN_FDS INT_MAX-2 is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=2147483645"), einval(envFDs)},
		{"LISTEN_FDS beyond int range is out of range", vars("LISTEN_PID="+pid, "LISTEN_FDS=2147483648"), erange(envFDs)},
		{"LISTEN_FDS beyond long range is out of range", vars("LISTEN_PID="+pid, "LISTEN_FDS=9223372036854775808"), erange(envFDs)},
		{"LISTEN_FDS overflowing with trailing text is out of range", vars("LISTEN_PID="+pid, "LISTEN_FDS=99999999999999999999x"), erange(envFDs)},
		{"a bad LISTEN_FDS for another process is not looked at", vars("LISTEN_PID=1", "LISTEN_FDS=abc"), none},

		{"names are split on colons", vars("LISTEN_PID="+pid, "LISTEN_FDS=3", "LISTEN_FDNAMES=a:b:c"), outcome{N: 3, Names: []string{"a", "b", "c"}}},
		{"an empty LISTEN_FDNAMES is one empty name", vars("LISTEN_PID="+pid, "LISTEN_FDS=1", "LISTEN_FDNAMES="), outcome{N: 1, Names: []string{""}}},
		{"a lone colon is two empty names", vars("LISTEN_PID="+pid, "LISTEN_FDS=2", "LISTEN_FDNAMES=:"), outcome{N: 2, Names: []string{"", ""}}},
		{"a trailing colon adds an empty name", vars("LISTEN_PID="+pid, "LISTEN_FDS=2", "LISTEN_FDNAMES=a:"), outcome{N: 2, Names: []string{"a", ""}}},
		{"a backslash escapes a colon", vars("LISTEN_PID="+pid, "LISTEN_FDS=2", `LISTEN_FDNAMES=a\:b:c`), outcome{N: 2, Names: []string{"a:b", "c"}}},
		{"a backslash takes any character literally", vars("LISTEN_PID="+pid, "LISTEN_FDS=1", `LISTEN_FDNAMES=x\n\\`), outcome{N: 1, Names: []string{`xn\`}}},
		{"fewer names than fds is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=3", "LISTEN_FDNAMES=a:b"), einval(envFDNames)},
		{"more names than fds is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b"), einval(envFDNames)},
		{"a lone trailing backslash is invalid", vars("LISTEN_PID="+pid, "LISTEN_FDS=1", `LISTEN_FDNAMES=a\`), einval(envFDNames)},
		{"a lone trailing backslash is invalid even for another process", vars("LISTEN_PID=1", "LISTEN_FDS=1", `LISTEN_FDNAMES=a\`), einval(envFDNames)},
		{"a lone trailing backslash is invalid even without LISTEN_PID", vars(`LISTEN_FDNAMES=\`), einval(envFDNames)},
		{"a name count mismatch for another process is not looked at", vars("LISTEN_PID=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=a:b"), none},
		{"a bad LISTEN_PID is reported before a bad LISTEN_FDS", vars("LISTEN_PID=x", "LISTEN_FDS=y"), einval(envPID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parse(tt.env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parse:\n-want %+v\n+got  %+v", tt.want, got)
			}
		})
	}
}

func TestParseEnvChecksPidfdID(t *testing.T) {
	withID := func(own uint64, known bool, kv ...string) environ {
		env := vars(kv...)
		env.pidfdID = func() (uint64, bool) { return own, known }
		return env
	}
	tests := []struct {
		name string
		env  environ
		want outcome
	}{
		{"a matching LISTEN_PIDFDID is ours", withID(77, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=77", "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"another LISTEN_PIDFDID means not ours", withID(77, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=78", "LISTEN_FDS=1"), outcome{}},
		{"an unknowable own id skips the check", withID(0, false, "LISTEN_PID="+pid, "LISTEN_PIDFDID=78", "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"an unparseable LISTEN_PIDFDID is invalid", withID(77, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=x", "LISTEN_FDS=1"), outcome{Errno: syscall.EINVAL, Var: envPIDFDID}},
		{"a negative LISTEN_PIDFDID is out of range", withID(77, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=-5", "LISTEN_FDS=1"), outcome{Errno: syscall.ERANGE, Var: envPIDFDID}},
		{"LISTEN_PIDFDID takes all 64 bits", withID(1<<64-1, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=18446744073709551615", "LISTEN_FDS=1"), outcome{N: 1, Names: unknowns(1)}},
		{"LISTEN_PIDFDID of another pid is not looked at", withID(77, true, "LISTEN_PID=1", "LISTEN_PIDFDID=x", "LISTEN_FDS=1"), outcome{}},
		{"LISTEN_PIDFDID is checked before LISTEN_FDS", withID(77, true, "LISTEN_PID="+pid, "LISTEN_PIDFDID=78", "LISTEN_FDS=x"), outcome{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parse(tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parse:\n-want %+v\n+got  %+v", tt.want, got)
			}
		})
	}
}

func TestParseEnvErrorNamesVariableAndQuotesValue(t *testing.T) {
	_, err := parseEnv(vars("LISTEN_PID="+pid, "LISTEN_FDS=12 "))
	if want := `activation: LISTEN_FDS="12 ": not a number`; err == nil || err.Error() != want {
		t.Fatalf("error:\n-want %s\n+got  %v", want, err)
	}
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("errors.Is(%v, EINVAL) = false", err)
	}
}

// FuzzParseEnv checks that no input makes the parser panic, that numbers
// it accepts agree with a model of strtol, and that names round-trip.
func FuzzParseEnv(f *testing.F) {
	for _, seed := range [][3]string{
		{pid, "1", ""}, {" " + pid, "+2", "a:b"}, {"0x1092", "010", `a\:b:c:d:e:f:g:h`},
		{"0", "-1", `\`}, {"-1", "0b11", "::"}, {"abc", "2147483645", "x"}, {"0" + pid, "0o7", `x\n:y:z:w:v:u:t`},
		{"99999999999999999999", "9223372036854775808", "a:"}, {"\t" + pid, "\v3", "a:b:c"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, pidVal, fds, names string) {
		le, err := parseEnv(vars("LISTEN_PID="+pidVal, "LISTEN_FDS="+fds, "LISTEN_FDNAMES="+names))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "activation: LISTEN_") {
				t.Fatalf("error %q does not name a variable", err)
			}
			return
		}
		if le.n < 0 || le.n > maxFDs {
			t.Fatalf("n = %d out of range", le.n)
		}
		if le.n > 0 {
			if got, want := le.n, modelStrtol(fds); int64(got) != want {
				t.Fatalf("LISTEN_FDS=%q: got %d, model says %d", fds, got, want)
			}
		}
		if !le.hasNames {
			return // LISTEN_PID was not this process's: the names are not split
		}
		c := countNames(names)
		got, err := le.names(c)
		if err != nil || len(got) != c {
			t.Fatalf("LISTEN_FDNAMES=%q: counted %d names, split into %q, %v", names, c, got, err)
		}
		if joined := joinNames(got); joined != names && !strings.Contains(names, `\`) {
			t.Fatalf("names %q rejoin to %q", names, joined)
		}
		if _, err := le.names(c + 1); !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("LISTEN_FDNAMES=%q for %d fds: error %v, want EINVAL", names, c+1, err)
		}
	})
}

// modelStrtol is an independent reading of the accepted syntax, used only
// for inputs the parser accepted.
func modelStrtol(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r")
	base := 0
	if len(s) >= 2 && s[0] == '0' && (s[1]|0x20 == 'b' || s[1]|0x20 == 'o') {
		base = map[byte]int{'b': 2, 'o': 8}[s[1]|0x20]
		s = s[2:]
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	v, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), base, 64)
	if err != nil {
		return -1 << 63
	}
	return v
}

func joinNames(names []string) string { return strings.Join(names, ":") }

func TestSplitNamesKeepsEveryName(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{":", []string{"", ""}},
		{"a:", []string{"a", ""}},
		{"web:api", []string{"web", "api"}},
		{`a\:b:c`, []string{"a:b", "c"}},
		{`\\:\:`, []string{`\`, ":"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q splits into %q", tt.in, tt.want), func(t *testing.T) {
			if err := checkEscapes(tt.in); err != nil {
				t.Fatalf("checkEscapes(%q) = %v", tt.in, err)
			}
			if n := countNames(tt.in); n != len(tt.want) {
				t.Errorf("countNames(%q) = %d, want %d", tt.in, n, len(tt.want))
			}
			if got := splitNames(tt.in, nil); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitNames(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
