package activation

import (
	"fmt"
	"strings"
)

// The variables of the protocol, as sd_listen_fds(3) names them.
const (
	envPID      = "LISTEN_PID"
	envPIDFDID  = "LISTEN_PIDFDID"
	envFDs      = "LISTEN_FDS"
	envFDNames  = "LISTEN_FDNAMES"
	firstFD     = 3                   // SD_LISTEN_FDS_START
	maxFDs      = 1<<31 - 1 - firstFD // INT_MAX - SD_LISTEN_FDS_START
	defaultName = "unknown"           // the name libsystemd gives fds when LISTEN_FDNAMES is unset
)

// environ is what parsing reads: the variables, this process's pid and,
// where the platform can tell, the inode id of this process's pidfd.
type environ struct {
	getenv  func(key string) (string, bool)
	pid     int
	pidfdID func() (id uint64, ok bool)
}

// listenEnv is the parsed environment. n is 0 when the variables are not
// for this process. names is nil when LISTEN_FDNAMES is unset.
type listenEnv struct {
	n        int
	names    []string
	rawNames string
}

// parseEnv reads the environment as sd_listen_fds_with_names does, in the
// same order, and touches no fd. A result with n == 0 and a nil error means
// the variables are absent or meant for another process.
func parseEnv(env environ) (listenEnv, error) {
	var le listenEnv
	if raw, ok := env.getenv(envFDNames); ok {
		names, err := splitNames(raw)
		if err != nil {
			return listenEnv{}, envError(envFDNames, raw, err)
		}
		le.names, le.rawNames = names, raw
	}

	rawPID, ok := env.getenv(envPID)
	if !ok {
		return listenEnv{}, nil
	}
	pid, err := parsePID(rawPID)
	if err != nil {
		return listenEnv{}, envError(envPID, rawPID, err)
	}
	if pid != env.pid {
		return listenEnv{}, nil
	}

	if rawID, ok := env.getenv(envPIDFDID); ok {
		id, err := parseUint64(rawID)
		if err != nil {
			return listenEnv{}, envError(envPIDFDID, rawID, err)
		}
		if env.pidfdID != nil {
			if own, known := env.pidfdID(); known && own != id {
				return listenEnv{}, nil
			}
		}
	}

	rawFDs, ok := env.getenv(envFDs)
	if !ok {
		return listenEnv{}, nil
	}
	n, err := parseInt(rawFDs)
	if err != nil {
		return listenEnv{}, envError(envFDs, rawFDs, err)
	}
	if n <= 0 || n > maxFDs {
		return listenEnv{}, envError(envFDs, rawFDs, rangeError{errnoInvalid, fmt.Sprintf("not between 1 and %d", maxFDs)})
	}
	le.n = n
	return le, nil
}

// fdNames returns the name of each of the n fds: the names from
// LISTEN_FDNAMES, which must be exactly n, or "unknown" for each.
func (le listenEnv) fdNames(n int) ([]string, error) {
	if le.names == nil {
		names := make([]string, n)
		for i := range names {
			names[i] = defaultName
		}
		return names, nil
	}
	if len(le.names) != n {
		return nil, envError(envFDNames, le.rawNames,
			rangeError{errnoInvalid, fmt.Sprintf("names %d fds but LISTEN_FDS is %d", len(le.names), n)})
	}
	return le.names, nil
}

// envError names the variable and quotes its value.
func envError(key, value string, err error) error {
	return fmt.Errorf("activation: %s=%q: %w", key, value, err)
}

// rangeError is a parse failure: the errno libsystemd returns for it, and
// what was wrong in words.
type rangeError struct {
	errno error
	what  string
}

func (e rangeError) Error() string { return e.what }
func (e rangeError) Unwrap() error { return e.errno }

var (
	errSyntax   = rangeError{errnoInvalid, "not a number"}
	errRange    = rangeError{errnoRange, "out of range"}
	errBadPID   = rangeError{errnoRange, "not a valid pid"}
	errNegative = rangeError{errnoRange, "negative"}
	errEscape   = rangeError{errnoInvalid, "ends in a lone backslash"}
)

// splitNames splits LISTEN_FDNAMES as systemd's
// strv_split_full(":", EXTRACT_DONT_COALESCE_SEPARATORS) does: every colon
// separates (so "" is one empty name), and a backslash takes the next
// character literally.
func splitNames(s string) ([]string, error) {
	if !strings.Contains(s, `\`) {
		return strings.Split(s, ":"), nil
	}
	var names []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, errEscape
			}
			i++
			b.WriteByte(s[i])
		case ':':
			names = append(names, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(names, b.String()), nil
}

// parsePID parses LISTEN_PID as systemd's parse_pid does: an unsigned long
// in safe_atolu's syntax that must fit a positive pid_t.
func parsePID(s string) (int, error) {
	u, err := parseUint64(s)
	if err != nil {
		return 0, err
	}
	pid := int32(u) // pid_t; C's conversion truncates
	if uint64(int64(pid)) != u || pid <= 0 {
		return 0, errBadPID
	}
	return int(pid), nil
}

// parseUint64 follows systemd's safe_atou64: strtoull with base 0, with
// negative values other than zero refused.
func parseUint64(s string) (uint64, error) {
	n, err := scanNumber(s)
	switch {
	case err != nil:
		return 0, err
	case n.overflow:
		return 0, errRange // strtoull reports ERANGE before the caller looks at the rest
	case n.trailing:
		return 0, errSyntax
	case n.mag != 0 && strings.HasPrefix(n.text, "-"):
		return 0, errNegative
	case n.neg:
		return -n.mag, nil // strtoull negates in unsigned arithmetic
	}
	return n.mag, nil
}

// parseInt follows systemd's safe_atoi: strtol with base 0 into a long,
// which must then fit an int.
func parseInt(s string) (int, error) {
	n, err := scanNumber(s)
	switch {
	case err != nil:
		return 0, err
	case n.overflow || n.mag > 1<<63 || (!n.neg && n.mag == 1<<63):
		return 0, errRange // strtol reports ERANGE before the caller looks at the rest
	case n.trailing:
		return 0, errSyntax
	case n.neg && n.mag > 1<<31, !n.neg && n.mag > 1<<31-1:
		return 0, errRange
	case n.neg:
		return -int(n.mag), nil
	}
	return int(n.mag), nil
}

// number is what scanNumber read: a sign and a magnitude, whether
// anything followed the digits, and the text that strtol was handed (after
// systemd's own prefix handling).
type number struct {
	neg      bool
	mag      uint64
	overflow bool // the magnitude does not fit in 64 bits
	trailing bool // characters follow the digits
	text     string
}

// scanNumber reads s the way systemd's safe_ato* functions hand it to
// strtol/strtoull with base 0: systemd skips " \t\n\r", turns a leading
// "0b" or "0o" into base 2 or 8, and then the C library skips white
// space, reads a sign, a "0x" prefix or a leading "0" for octal when the
// base is still open, and the digits. Text without digits is an error;
// range and trailing characters are for the caller to judge, in strtol's
// order.
func scanNumber(s string) (number, error) {
	s = strings.TrimLeft(s, " \t\n\r")
	base := uint64(0)
	switch {
	case strings.HasPrefix(s, "0b"), strings.HasPrefix(s, "0B"):
		base, s = 2, s[2:]
	case strings.HasPrefix(s, "0o"), strings.HasPrefix(s, "0O"):
		base, s = 8, s[2:]
	}
	n := number{text: s}

	p := strings.TrimLeft(s, " \t\n\v\f\r")
	if p != "" && (p[0] == '+' || p[0] == '-') {
		n.neg = p[0] == '-'
		p = p[1:]
	}
	if base == 0 {
		switch {
		case len(p) > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digitValue(p[2]) < 16:
			base, p = 16, p[2:]
		case p != "" && p[0] == '0':
			base = 8
		default:
			base = 10
		}
	}

	i := 0
	for ; i < len(p); i++ {
		d := digitValue(p[i])
		if d >= base {
			break
		}
		if n.mag > (1<<64-1-d)/base {
			n.overflow = true
		}
		n.mag = n.mag*base + d
	}
	if i == 0 {
		return number{}, errSyntax
	}
	n.trailing = i != len(p)
	return n, nil
}

// digitValue is the value of c as a digit in bases up to 36, or 36.
func digitValue(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'z':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 36
}
