package fdname

import (
	"strings"
	"testing"
)

func TestCheckFollowsSystemdsRule(t *testing.T) {
	for _, tt := range []struct {
		name, err string
	}{
		{"", ""},
		{"web", ""},
		{"graceful/tcp/127.0.0.1%3A8080", ""},
		{" ~!\\", ""},
		{strings.Repeat("a", 255), ""},
		{strings.Repeat("a", 256), "is 256 bytes long, at most 255 are allowed"},
		{"a:b", "holds ':' at offset 1"},
		{"tab\there", "holds byte 0x09 at offset 3: only printable ASCII is allowed"},
		{"del\x7f", "holds byte 0x7f at offset 3: only printable ASCII is allowed"},
		{"é", "holds byte 0xc3 at offset 0: only printable ASCII is allowed"},
	} {
		err := Check(tt.name)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("Check(%q) = %q, want %q", tt.name, got, tt.err)
		}
	}
}
