package sdnum

import (
	"errors"
	"testing"
)

func TestParseUintReadsNumbersAsSystemdDoes(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		bits    int
		want    uint64
		wantErr error
	}{
		{"decimal digits are read in base 10", "123", 64, 123, nil},
		{"0x introduces hex", "0x7b", 64, 123, nil},
		{"0X introduces hex too", "0X7B", 64, 123, nil},
		{"a leading 0 means octal", "010", 64, 8, nil},
		{"0o introduces octal", "0o17", 64, 15, nil},
		{"0b introduces binary", "0b101", 64, 5, nil},
		{"0B introduces binary too", "0B11", 64, 3, nil},
		{"leading white space is skipped", " \t\n\r42", 64, 42, nil},
		{"a plus sign is allowed", "+42", 64, 42, nil},
		{"minus zero is zero", "-0", 64, 0, nil},
		{"zero is zero", "0", 64, 0, nil},
		{"the largest 64-bit value fits", "18446744073709551615", 64, 1<<64 - 1, nil},
		{"the largest 32-bit value fits 32 bits", "4294967295", 32, 1<<32 - 1, nil},
		{"an empty text is no number", "", 64, 0, ErrSyntax},
		{"white space alone is no number", "  ", 64, 0, ErrSyntax},
		{"a sign alone is no number", "+", 64, 0, ErrSyntax},
		{"trailing space is refused", "42 ", 64, 0, ErrSyntax},
		{"letters are refused", "abc", 64, 0, ErrSyntax},
		{"0x without digits is refused", "0x", 64, 0, ErrSyntax},
		{"0b without digits is refused", "0b", 64, 0, ErrSyntax},
		{"8 is no octal digit", "08", 64, 0, ErrSyntax},
		{"underscores are refused", "1_000", 64, 0, ErrSyntax},
		{"a negative number is out of range", "-1", 64, 0, ErrRange},
		{"a number beyond 64 bits is out of range", "18446744073709551616", 64, 0, ErrRange},
		{"overflow wins over trailing garbage, as in C", "99999999999999999999x", 64, 0, ErrRange},
		{"a number beyond 32 bits is out of range for 32 bits", "4294967296", 32, 0, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUint(tt.text, tt.bits)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseUint(%q, %d):\n-want %d, %v\n+got  %d, %v", tt.text, tt.bits, tt.want, tt.wantErr, got, err)
			}
		})
	}
}

func TestParseIntReadsIntsAsSafeAtoi(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    int
		wantErr error
	}{
		{"the largest int fits", "2147483647", 1<<31 - 1, nil},
		{"the smallest int fits", "-2147483648", -1 << 31, nil},
		{"one above the largest int is out of range", "2147483648", 0, ErrRange},
		{"one below the smallest int is out of range", "-2147483649", 0, ErrRange},
		{"the largest long is out of range for an int", "9223372036854775807", 0, ErrRange},
		{"beyond a long is out of range", "9223372036854775808", 0, ErrRange},
		{"the smallest long is out of range for an int", "-9223372036854775808", 0, ErrRange},
		{"beyond 64 bits is out of range", "-99999999999999999999", 0, ErrRange},
		{"the largest int in hex fits", "0x7fffffff", 1<<31 - 1, nil},
		{"one above the largest int in hex is out of range", "0x80000000", 0, ErrRange},
		{"a leading 0 means octal", "010", 8, nil},
		{"a negative number is read", "-42", -42, nil},
		{"zero is zero", "0", 0, nil},
		{"trailing space is refused", "1 ", 0, ErrSyntax},
		{"an empty text is no number", "", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInt(tt.text)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseInt(%q):\n-want %d, %v\n+got  %d, %v", tt.text, tt.want, tt.wantErr, got, err)
			}
		})
	}
}

func TestParsePIDReadsPIDsAsParsePID(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    int
		wantErr error
	}{
		{"pid 1 is a pid", "1", 1, nil},
		{"the largest pid_t is a pid", "2147483647", 1<<31 - 1, nil},
		{"a pid in hex is read", "0x10", 16, nil},
		{"0 is out of range", "0", 0, ErrRange},
		{"one above the largest pid_t is out of range", "2147483648", 0, ErrRange},
		{"a value that truncates to a valid pid_t is out of range", "4294967297", 0, ErrRange},
		{"the largest 64-bit value is out of range", "18446744073709551615", 0, ErrRange},
		{"a negative pid is out of range", "-1", 0, ErrRange},
		{"letters are refused", "self", 0, ErrSyntax},
		{"an empty text is no number", "", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePID(tt.text)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParsePID(%q):\n-want %d, %v\n+got  %d, %v", tt.text, tt.want, tt.wantErr, got, err)
			}
		})
	}
}

// The decimal fast path reads what the general one reads.
func FuzzPlainDecimalAgreesWithScan(f *testing.F) {
	for _, s := range []string{"1", "42", "4242", "999999999999999999", "100000000000000000", "12a", "0", "012", " 1", "1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := plainDecimal(s)
		if !ok {
			return
		}
		n, err := scanAny(s)
		if err != nil || n != (number{mag: v, text: s}) {
			t.Fatalf("%q: the fast path reads %d, the general one %+v, %v", s, v, n, err)
		}
	})
}
