package activation

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/go-activation/activation/internal/sdnum"
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
// where the platform can tell, the inode id of this process's pidfd; and
// the platform's errnos for a malformed value, which errors wrap as
// libsystemd returns them.
type environ struct {
	getenv  func(key string) (string, bool)
	pid     int
	pidfdID func() (id uint64, ok bool)
	errnos  errnos
}

// errnos are EINVAL and ERANGE.
type errnos struct{ invalid, outOfRange error }

// listenEnv is the parsed environment. n is 0 when the variables are not
// for this process. LISTEN_FDNAMES is kept as it came and split only once
// the fds are known to be this process's, into exactly n names.
type listenEnv struct {
	n        int
	rawNames string
	hasNames bool
	errnos   errnos
}

// parseEnv reads the environment as sd_listen_fds_with_names does, in the
// same order, and touches no fd. A result with n == 0 and a nil error means
// the variables are absent or meant for another process.
//
// libsystemd splits LISTEN_FDNAMES before it looks at LISTEN_PID, so a
// malformed value is an error even when the variables are another
// process's; parseEnv checks the escapes in that place but splits nothing,
// so a value meant for another process costs no memory.
//
// A malformed LISTEN_FDNAMES or LISTEN_PIDFDID is the error returned, as
// libsystemd returns it, but parseEnv still reads LISTEN_PID and
// LISTEN_FDS: when they are this process's and valid, the result's n is
// their count along with the error, so that the caller can mark the fds
// close-on-exec (libsystemd leaves them inheritable).
func parseEnv(env environ) (listenEnv, error) {
	le := listenEnv{errnos: env.errnos}
	var malformed error // of LISTEN_FDNAMES or LISTEN_PIDFDID
	if raw, ok := env.getenv(envFDNames); ok {
		if err := checkEscapes(raw); err != nil {
			malformed = envError(envFDNames, raw, parseError{env.errnos.invalid, err.Error()})
		}
		le.rawNames, le.hasNames = raw, true
	}

	rawPID, ok := env.getenv(envPID)
	if !ok {
		return listenEnv{}, malformed
	}
	pid, err := sdnum.ParsePID(rawPID)
	if err != nil {
		return listenEnv{}, cmp.Or(malformed, envError(envPID, rawPID, env.errnos.of(err)))
	}
	if pid != env.pid {
		return listenEnv{}, malformed
	}

	if rawID, ok := env.getenv(envPIDFDID); ok {
		id, err := sdnum.ParseUint64(rawID)
		switch {
		case err != nil:
			malformed = cmp.Or(malformed, envError(envPIDFDID, rawID, env.errnos.of(err)))
		case env.pidfdID != nil:
			if own, known := env.pidfdID(); known && own != id {
				return listenEnv{}, malformed
			}
		}
	}

	rawFDs, ok := env.getenv(envFDs)
	if !ok {
		return listenEnv{}, malformed
	}
	n, err := sdnum.ParseInt(rawFDs)
	if err != nil {
		return listenEnv{}, cmp.Or(malformed, envError(envFDs, rawFDs, env.errnos.of(err)))
	}
	if n <= 0 || n > maxFDs {
		return listenEnv{}, cmp.Or(malformed, envError(envFDs, rawFDs, parseError{env.errnos.invalid, fmt.Sprintf("not between 1 and %d", maxFDs)}))
	}
	le.n = n
	return le, malformed
}

// names returns the names of the n fds: LISTEN_FDNAMES split, or "unknown"
// for every fd when the variable is absent. A count of names other than n
// is an error, found before anything is allocated.
func (le listenEnv) names(n int) ([]string, error) {
	names := make([]string, 0, n)
	if !le.hasNames {
		for range n {
			names = append(names, defaultName)
		}
		return names, nil
	}
	if c := countNames(le.rawNames); c != n {
		return nil, envError(envFDNames, le.rawNames,
			parseError{le.errnos.invalid, fmt.Sprintf("names %d fds but LISTEN_FDS is %d", c, n)})
	}
	return splitNames(le.rawNames, names), nil
}

// envError names the variable and quotes its value, or the start of a
// long value.
func envError(key, value string, err error) error {
	const show = 256
	if len(value) > show {
		return fmt.Errorf("activation: %s=%q… (%d bytes): %w", key, value[:show], len(value), err)
	}
	return fmt.Errorf("activation: %s=%q: %w", key, value, err)
}

// parseError is a malformed variable: the errno libsystemd returns for it,
// and what was wrong in words.
type parseError struct {
	errno error
	what  string
}

func (e parseError) Error() string { return e.what }
func (e parseError) Unwrap() error { return e.errno }

var errEscape = errors.New("ends in a lone backslash")

// of gives a number's error the errno libsystemd returns for it.
func (e errnos) of(err error) error {
	if err == sdnum.ErrRange {
		return parseError{e.outOfRange, err.Error()}
	}
	return parseError{e.invalid, err.Error()}
}

// LISTEN_FDNAMES is split as systemd's
// strv_split_full(":", EXTRACT_DONT_COALESCE_SEPARATORS) splits it: every
// colon separates (so "" is one empty name), and a backslash takes the
// next character literally. checkEscapes, countNames and splitNames walk
// it the same way.

// checkEscapes reports a lone trailing backslash, the one malformed value.
func checkEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+1 == len(s) {
				return errEscape
			}
			i++
		}
	}
	return nil
}

// countNames counts the names in s, which checkEscapes accepts.
func countNames(s string) int {
	n := 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			n++
		}
	}
	return n
}

// splitNames appends the names in s, which checkEscapes accepts, to names.
// A name without a backslash shares s's memory.
func splitNames(s string, names []string) []string {
	if !strings.Contains(s, `\`) {
		for {
			name, rest, more := strings.Cut(s, ":")
			names = append(names, name)
			if !more {
				return names
			}
			s = rest
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			b.WriteByte(s[i])
		case ':':
			names = append(names, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(names, b.String())
}
