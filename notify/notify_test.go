package notify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// call is one exported call, for tables.
type call struct {
	name string
	do   func() (bool, error)
}

// everyCall lists a valid use of every exported sending call.
func everyCall(t *testing.T, f *os.File) []call {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return []call{
		{"Send", func() (bool, error) { return Send("X=1") }},
		{"SendWithFiles", func() (bool, error) { return SendWithFiles("X=1", f) }},
		{"Ready", Ready},
		{"Reloading", Reloading},
		{"Stopping", Stopping},
		{"Status", func() (bool, error) { return Status("serving") }},
		{"Errno", func() (bool, error) { return Errno(2) }},
		{"ExtendTimeout", func() (bool, error) { return ExtendTimeout(time.Second) }},
		{"Watchdog", Watchdog},
		{"WatchdogTrigger", WatchdogTrigger},
		{"MainPID", func() (bool, error) { return MainPID(1) }},
		{"Barrier", func() (bool, error) { return Barrier(ctx) }},
		{"Store", func() (bool, error) { return Store("state", f) }},
		{"StoreNoPoll", func() (bool, error) { return StoreNoPoll("state", f) }},
		{"StoreFile", func() (bool, error) { return StoreFile("state", f) }},
		{"StoreListener", func() (bool, error) { return StoreListener("web", fakeListener{}) }},
		{"StoreConn", func() (bool, error) { return StoreConn("conn", fakeConn{}) }},
		{"Remove", func() (bool, error) { return Remove("state") }},
	}
}

// fakeListener and fakeConn have File methods that must not be called when
// the process is not supervised.
type fakeListener struct{ net.Listener }

func (fakeListener) File() (*os.File, error) { panic("File called") }

type fakeConn struct{ net.Conn }

func (fakeConn) File() (*os.File, error) { panic("File called") }

func openDevNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// unsetenv unsets key for the rest of the test and restores it afterwards.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

func TestEveryCallDoesNothingWhenNotSupervised(t *testing.T) {
	unsetenv(t, "NOTIFY_SOCKET")
	for _, c := range everyCall(t, openDevNull(t)) {
		t.Run(c.name+" reports false and no error", func(t *testing.T) {
			sent, err := c.do()
			if sent || err != nil {
				t.Errorf("%s() = %v, %v; want false, <nil>", c.name, sent, err)
			}
		})
	}
}

func TestEveryCallRefusesAMalformedNotifySocket(t *testing.T) {
	values := []string{"", "relative/path", "@", "vsock:any:1", "tcp://127.0.0.1:1"}
	for _, value := range values {
		t.Setenv("NOTIFY_SOCKET", value)
		for _, c := range everyCall(t, openDevNull(t)) {
			t.Run(fmt.Sprintf("%s refuses NOTIFY_SOCKET=%q", c.name, value), func(t *testing.T) {
				sent, err := c.do()
				want := "notify: invalid NOTIFY_SOCKET " + strconv.Quote(value)
				if sent || err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%s() = %v, %v; want false and an error starting %s", c.name, sent, err, want)
				}
			})
		}
	}
}

func TestInvalidArgumentsAreRefusedBeforeLookingAtTheEnvironment(t *testing.T) {
	// NOTIFY_SOCKET is malformed: an argument error must come first, so the
	// checks do not depend on supervision.
	t.Setenv("NOTIFY_SOCKET", "not an address")
	f := openDevNull(t)
	tooMany := make([]*os.File, MaxFiles+1)
	for i := range tooMany {
		tooMany[i] = f
	}
	tests := []struct {
		name    string
		do      func() (bool, error)
		wantErr string
	}{
		{"a status with a newline is refused", func() (bool, error) { return Status("a\nREADY=1") }, `notify: status "a\nREADY=1" holds a newline`},
		{"a negative errno is refused", func() (bool, error) { return Errno(-1) }, "notify: errno -1 is negative"},
		{"a negative timeout extension is refused", func() (bool, error) { return ExtendTimeout(-time.Second) }, "notify: timeout extension -1s is negative"},
		{"main pid 0 is refused", func() (bool, error) { return MainPID(0) }, "notify: main pid 0 is out of range"},
		{"a negative main pid is refused", func() (bool, error) { return MainPID(-5) }, "notify: main pid -5 is out of range"},
		{"a message over 4096 bytes is refused", func() (bool, error) { return Send(strings.Repeat("x", MaxMessageSize+1)) }, "notify: message of 4097 bytes, at most 4096 are read"},
		{"a message with a NUL byte is refused", func() (bool, error) { return Send("A=1\x00B=2") }, "notify: message holds a NUL byte at offset 3"},
		{"254 files are refused", func() (bool, error) { return SendWithFiles("X=1", tooMany...) }, "notify: 254 files in one message, at most 253 fit"},
		{"a nil file is refused", func() (bool, error) { return SendWithFiles("X=1", f, nil) }, "notify: file 2 of 2 is nil"},
		{"storing no files is refused", func() (bool, error) { return Store("state") }, `notify: store "state": no files`},
		{"storing under a name with ':' is refused", func() (bool, error) { return Store("a:b", f) }, `notify: file descriptor name "a:b" holds ':' at offset 1`},
		{"removing a name with a newline is refused", func() (bool, error) { return Remove("a\nb") }, `notify: file descriptor name "a\nb" holds byte 0x0a at offset 1: only printable ASCII is allowed`},
		{"storing a listener without a File method is refused", func() (bool, error) { return StoreListener("web", struct{ net.Listener }{}) }, `notify: store "web": listener of type struct { net.Listener } has no File method`},
		{"storing a nil connection is refused", func() (bool, error) { return StoreConn("c", nil) }, `notify: store "c": connection of type <nil> has no File method`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, err := tt.do()
			if sent || err == nil || err.Error() != tt.wantErr {
				t.Errorf("got %v, %v\n-want false, %s", sent, err, tt.wantErr)
			}
		})
	}
}

func TestValidNameFollowsFdnameIsValid(t *testing.T) {
	tests := []struct {
		name  string
		fd    string
		valid bool
	}{
		{"the empty name is valid", "", true},
		{"a plain word is valid", "web", true},
		{"space and tilde are the printable bounds", " ~", true},
		{"punctuation other than ':' is valid", "a-b_c.d/e@f=g", true},
		{"255 bytes are valid", strings.Repeat("n", 255), true},
		{"256 bytes are too long", strings.Repeat("n", 256), false},
		{"':' separates names in LISTEN_FDNAMES", "a:b", false},
		{"a tab is a control character", "a\tb", false},
		{"DEL is not printable", "a\x7fb", false},
		{"a byte above 127 is not ASCII", "caf\xc3\xa9", false},
		{"a NUL byte is a control character", "a\x00b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validName(tt.fd)
			if (err == nil) != tt.valid {
				t.Errorf("validName(%q) = %v, want valid %v", tt.fd, err, tt.valid)
			}
		})
	}
}

func FuzzValidName(f *testing.F) {
	for _, seed := range []string{"", "web", "a:b", "\x1f", "\x7f", "~", strings.Repeat("x", 256), "caf\xc3\xa9"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		// fdname_is_valid, stated as what a valid name is made of.
		want := len(name) <= 255 && !strings.ContainsRune(name, ':') &&
			strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r > '~' }) < 0
		err := validName(name)
		if (err == nil) != want {
			t.Fatalf("validName(%q) = %v, want valid %v", name, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(name)) {
			t.Errorf("error %q does not quote the name", err)
		}
	})
}

func TestStoreMaxAndStoreEnabledReadFDSTORE(t *testing.T) {
	const socket = "/run/systemd/notify"
	tests := []struct {
		name        string
		env         map[string]string
		wantMax     int
		wantEnabled bool
	}{
		{"FDSTORE as systemd sets it enables the store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "64"}, 64, true},
		{"FDSTORE=1 is the smallest store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "1"}, 1, true},
		{"the largest int32 is read", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "2147483647"}, 1<<31 - 1, true},
		{"numbers are read as systemd reads them", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": " 0x10"}, 16, true},
		{"without FDSTORE the manager does not say", map[string]string{"NOTIFY_SOCKET": socket}, 0, false},
		{"FDSTORE=0 is no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "0"}, 0, false},
		{"an empty FDSTORE is no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": ""}, 0, false},
		{"a negative FDSTORE is no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "-5"}, 0, false},
		{"a word is no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "yes"}, 0, false},
		{"trailing characters are no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "16 "}, 0, false},
		{"a number beyond int32 is no store", map[string]string{"NOTIFY_SOCKET": socket, "FDSTORE": "2147483648"}, 0, false},
		{"without NOTIFY_SOCKET nothing can be stored", map[string]string{"FDSTORE": "64"}, 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookupEnv := func(key string) (string, bool) {
				v, ok := tt.env[key]
				return v, ok
			}
			if got := storeMax(lookupEnv); got != tt.wantMax {
				t.Errorf("storeMax = %d, want %d", got, tt.wantMax)
			}
			if got := storeEnabled(lookupEnv); got != tt.wantEnabled {
				t.Errorf("storeEnabled = %v, want %v", got, tt.wantEnabled)
			}
		})
	}
}

func TestStoreEnabledReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("FDSTORE", "8")
	if !StoreEnabled() || StoreMax() != 8 {
		t.Errorf("StoreEnabled() = %v, StoreMax() = %d; want true, 8", StoreEnabled(), StoreMax())
	}
	unsetenv(t, "FDSTORE")
	if StoreEnabled() || StoreMax() != 0 {
		t.Errorf("without FDSTORE: StoreEnabled() = %v, StoreMax() = %d; want false, 0", StoreEnabled(), StoreMax())
	}
}
