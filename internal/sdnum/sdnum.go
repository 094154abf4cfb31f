// Package sdnum reads numbers the way systemd reads them from the
// environment: C's strtol and strtoull with base 0, wrapped by systemd's
// safe_atoi, safe_atou64 and parse_pid.
//
// systemd skips " \t\n\r" and turns a leading "0b" or "0o" into base 2 or
// 8; the C library then skips white space (" \t\n\v\f\r"), reads a sign, a
// "0x" prefix or a leading "0" for octal when the base is still open, and
// the digits. Nothing may follow the digits, and there must be some.
// Overflow is reported before trailing characters, as strtol sets ERANGE
// before its caller looks at the end pointer.
package sdnum

import (
	"errors"
	"strings"
)

// The two ways a number can be wrong; libsystemd returns EINVAL and ERANGE.
var (
	ErrSyntax = errors.New("not a number")
	ErrRange  = errors.New("out of range")
)

// ParseUint64 reads s as systemd's safe_atou64: strtoull, with negative
// values other than zero refused.
func ParseUint64(s string) (uint64, error) {
	n, err := scan(s)
	switch {
	case err != nil:
		return 0, err
	case n.overflow:
		return 0, ErrRange
	case n.trailing:
		return 0, ErrSyntax
	case n.mag != 0 && strings.HasPrefix(n.text, "-"):
		return 0, ErrRange
	case n.neg:
		return -n.mag, nil // strtoull negates in unsigned arithmetic
	}
	return n.mag, nil
}

// ParseUint is ParseUint64 for a value that must also fit in bits bits.
func ParseUint(s string, bits int) (uint64, error) {
	v, err := ParseUint64(s)
	if err == nil && bits < 64 && v>>bits != 0 {
		return 0, ErrRange
	}
	return v, err
}

// ParseInt reads s as systemd's safe_atoi: strtol into a long, which must
// then fit a 32-bit int.
func ParseInt(s string) (int, error) {
	n, err := scan(s)
	switch {
	case err != nil:
		return 0, err
	case n.overflow || n.mag > 1<<63 || (!n.neg && n.mag == 1<<63):
		return 0, ErrRange
	case n.trailing:
		return 0, ErrSyntax
	case n.neg && n.mag > 1<<31, !n.neg && n.mag > 1<<31-1:
		return 0, ErrRange
	case n.neg:
		return -int(n.mag), nil
	}
	return int(n.mag), nil
}

// ParsePID reads s as systemd's parse_pid: an unsigned long in
// safe_atolu's syntax that must fit a positive pid_t.
func ParsePID(s string) (int, error) {
	u, err := ParseUint64(s)
	if err != nil {
		return 0, err
	}
	pid := int32(u) // pid_t; C's conversion truncates
	if uint64(int64(pid)) != u || pid <= 0 {
		return 0, ErrRange
	}
	return int(pid), nil
}

// number is what scan read: a sign and a magnitude, whether the magnitude
// overflowed 64 bits, whether anything followed the digits, and the text
// that strtol was handed after systemd's own prefix handling.
type number struct {
	neg      bool
	mag      uint64
	overflow bool
	trailing bool
	text     string
}

func scan(s string) (number, error) {
	if v, ok := plainDecimal(s); ok {
		return number{mag: v, text: s}, nil
	}
	return scanAny(s)
}

// scanAny is scan for any text.
func scanAny(s string) (number, error) {
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
		return number{}, ErrSyntax
	}
	n.trailing = i != len(p)
	return n, nil
}

// plainDecimal reads the common case, a decimal number of up to 18 digits
// with no sign, space or leading zero, which every rule above reads as
// this loop does.
func plainDecimal(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 18 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
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
