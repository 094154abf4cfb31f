package notify

import "errors"

// Numbers in the environment (WATCHDOG_USEC, WATCHDOG_PID) and in vsock
// addresses are read the way systemd reads them: C strtoull with base 0 as
// systemd's safe_atou64 wraps it. Leading white space is skipped, a "+" is
// allowed, "0x" means hex, "0b" binary, "0o" and a leading "0" octal, trailing
// characters are refused, and a minus sign is refused unless the value is 0.

var (
	errSyntax = errors.New("not a number")
	errRange  = errors.New("out of range")
)

// parseUint reads s as systemd's safe_atollu_full(s, 0, …) does and then
// checks that the value fits in bits bits.
func parseUint(s string, bits int) (uint64, error) {
	s = trimLeft(s, " \t\n\r") // systemd's WHITESPACE
	base := 0
	switch {
	case hasPrefixFold(s, "0b"):
		base, s = 2, s[2:]
	case hasPrefixFold(s, "0o"):
		base, s = 8, s[2:]
	}
	v, negative, err := strtoull(s, base)
	if err != nil {
		return 0, err
	}
	if v != 0 && negative {
		return 0, errRange
	}
	if bits < 64 && v>>bits != 0 {
		return 0, errRange
	}
	return v, nil
}

// strtoull follows C's strtoull on the whole of s: it fails unless every
// byte is consumed. negative reports a leading minus sign; the value returned
// is then already negated modulo 2⁶⁴, as C does.
func strtoull(s string, base int) (v uint64, negative bool, err error) {
	s = trimLeft(s, " \t\n\v\f\r") // C isspace
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-'
		s = s[1:]
	}
	if (base == 0 || base == 16) && len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digitValue(s[2]) < 16 {
		base, s = 16, s[2:]
	}
	if base == 0 {
		base = 10
		if s != "" && s[0] == '0' {
			base = 8
		}
	}
	if s == "" {
		return 0, false, errSyntax
	}
	overflow, trailing := false, false
	for i := 0; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			trailing = true
			break
		}
		hi := v * uint64(base)
		if v != 0 && hi/uint64(base) != v {
			overflow = true
		}
		next := hi + uint64(d)
		if next < hi {
			overflow = true
		}
		v = next
	}
	if overflow { // C sets ERANGE, which systemd checks before the end pointer
		return 0, false, errRange
	}
	if trailing {
		return 0, false, errSyntax
	}
	if negative {
		v = -v
	}
	return v, negative, nil
}

func digitValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

func trimLeft(s, set string) string {
	for s != "" && containsByte(set, s[0]) {
		s = s[1:]
	}
	return s
}

func containsByte(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
