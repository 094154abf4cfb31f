package activation

import (
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
	pid, err := sdnum.ParsePID(rawPID)
	if err != nil {
		return listenEnv{}, envError(envPID, rawPID, withErrno(err))
	}
	if pid != env.pid {
		return listenEnv{}, nil
	}

	if rawID, ok := env.getenv(envPIDFDID); ok {
		id, err := sdnum.ParseUint64(rawID)
		if err != nil {
			return listenEnv{}, envError(envPIDFDID, rawID, withErrno(err))
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
	n, err := sdnum.ParseInt(rawFDs)
	if err != nil {
		return listenEnv{}, envError(envFDs, rawFDs, withErrno(err))
	}
	if n <= 0 || n > maxFDs {
		return listenEnv{}, envError(envFDs, rawFDs, rangeError{errnoInvalid, fmt.Sprintf("not between 1 and %d", maxFDs)})
	}
	le.n = n
	return le, nil
}

// checkNames reports an error unless LISTEN_FDNAMES is absent or names
// exactly n fds.
func (le listenEnv) checkNames(n int) error {
	if le.names != nil && len(le.names) != n {
		return envError(envFDNames, le.rawNames,
			rangeError{errnoInvalid, fmt.Sprintf("names %d fds but LISTEN_FDS is %d", len(le.names), n)})
	}
	return nil
}

// name is the name of the i-th fd: its entry in LISTEN_FDNAMES, or
// "unknown" when the variable is absent.
func (le listenEnv) name(i int) string {
	if le.names == nil {
		return defaultName
	}
	return le.names[i]
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

var errEscape = rangeError{errnoInvalid, "ends in a lone backslash"}

// withErrno gives a number's error the errno libsystemd returns for it.
func withErrno(err error) error {
	if err == sdnum.ErrRange {
		return rangeError{errnoRange, err.Error()}
	}
	return rangeError{errnoInvalid, err.Error()}
}

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
