package notify

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestParseAddressAcceptsWhatSystemdAccepts(t *testing.T) {
	long := "/" + strings.Repeat("a", maxPath-1)
	tests := []struct {
		name  string
		value string
		want  address
	}{
		{"an absolute path is a file system socket", "/run/systemd/notify", address{kind: kindPath, name: "/run/systemd/notify"}},
		{"a path of 107 bytes still fits", long, address{kind: kindPath, name: long}},
		{"a leading @ is an abstract name", "@notify/1", address{kind: kindAbstract, name: "@notify/1"}},
		{"vsock: asks for the default type", "vsock:2:1234", address{kind: kindVsock, cid: 2, port: 1234, typ: typeDefault}},
		{"vsock-dgram: asks for datagrams", "vsock-dgram:3:1", address{kind: kindVsock, cid: 3, port: 1, typ: typeDgram}},
		{"vsock-seqpacket: asks for sequential packets", "vsock-seqpacket:3:1", address{kind: kindVsock, cid: 3, port: 1, typ: typeSeqpacket}},
		{"vsock-stream: asks for a stream", "vsock-stream:3:1", address{kind: kindVsock, cid: 3, port: 1, typ: typeStream}},
		{"the CID hypervisor is 0", "vsock:hypervisor:5", address{kind: kindVsock, cid: 0, port: 5}},
		{"the CID local is 1", "vsock:local:5", address{kind: kindVsock, cid: 1, port: 5}},
		{"the CID host is 2", "vsock:host:5", address{kind: kindVsock, cid: 2, port: 5}},
		{"port 0 is valid for vsock", "vsock:2:0", address{kind: kindVsock, cid: 2, port: 0}},
		{"numbers may be hex", "vsock:0x10:0x20", address{kind: kindVsock, cid: 16, port: 32}},
		{"numbers may carry white space and a plus", "vsock: 7:+8", address{kind: kindVsock, cid: 7, port: 8}},
		{"the largest port below VMADDR_PORT_ANY is valid", "vsock:2:4294967294", address{kind: kindVsock, cid: 2, port: 4294967294}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddress(tt.value)
			if err != nil {
				t.Fatalf("parseAddress(%q): %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("parseAddress(%q):\n-want %+v\n+got  %+v", tt.value, tt.want, got)
			}
		})
	}
}

func TestParseAddressRefusesWhatSystemdRefuses(t *testing.T) {
	tests := []struct {
		name  string
		value string
	}{
		{"an empty value is not an address", ""},
		{"a relative path is refused", "run/notify"},
		{"a lone slash names nothing", "/"},
		{"a lone @ names nothing", "@"},
		{"a path of 108 bytes does not fit", "/" + strings.Repeat("a", maxPath)},
		{"an abstract name of 108 bytes does not fit", "@" + strings.Repeat("a", maxPath)},
		{"a TCP address is refused", "127.0.0.1:9"},
		{"an unknown vsock type is refused", "vsock-raw:2:1"},
		{"vsock needs a port", "vsock:2"},
		{"vsock needs a CID", "vsock::1"},
		{"the CID any is refused", "vsock:any:1"},
		{"the CID -1 is refused", "vsock:-1:1"},
		{"the CID 4294967295 is refused", "vsock:4294967295:1"},
		{"a CID beyond 32 bits is refused", "vsock:4294967296:1"},
		{"a CID that is no number is refused", "vsock:guest:1"},
		{"VMADDR_PORT_ANY is refused", "vsock:2:4294967295"},
		{"a negative port is refused", "vsock:2:-1"},
		{"a port with trailing space is refused", "vsock:2:1 "},
		{"a third field is refused", "vsock:2:1:3"},
		{"an empty port is refused", "vsock:2:"},
		{"upper case VSOCK is not vsock", "VSOCK:2:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAddress(tt.value)
			if err == nil {
				t.Fatalf("parseAddress(%q) = %+v, want an error", tt.value, got)
			}
			if want := fmt.Sprintf("notify: invalid NOTIFY_SOCKET %q", tt.value); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("parseAddress(%q) error:\n-want prefix %s\n+got         %v", tt.value, want, err)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, seed := range []string{
		"/run/systemd/notify", "@abstract", "", "/", "@", "relative",
		"vsock:2:1", "vsock-stream:host:0x10", "vsock-dgram::1", "vsock-seqpacket:any:1",
		"vsock:1:4294967295", "vsock: +0o17:0b11", strings.Repeat("/", 200),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		a, err := parseAddress(value)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(value)) {
				t.Errorf("error %q does not quote the value %q", err, value)
			}
			return
		}
		switch a.kind {
		case kindPath, kindAbstract:
			if a.name != value || len(value) < 2 || len(value) > maxPath {
				t.Errorf("parseAddress(%q) = %+v: wrong name or length accepted", value, a)
			}
			if (a.kind == kindAbstract) != strings.HasPrefix(value, "@") {
				t.Errorf("parseAddress(%q) = %+v: wrong kind", value, a)
			}
		case kindVsock:
			if !strings.HasPrefix(value, "vsock") || a.cid == cidAny || a.port == portAny {
				t.Errorf("parseAddress(%q) = %+v: not a valid vsock address", value, a)
			}
		default:
			t.Errorf("parseAddress(%q) = %+v: no kind", value, a)
		}
	})
}
