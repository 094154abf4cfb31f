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
