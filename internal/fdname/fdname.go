// Package fdname holds systemd's rule for the name of a file descriptor
// (FileDescriptorName=, FDNAME=, an entry of LISTEN_FDNAMES), as
// fdname_is_valid checks it: at most MaxLen bytes, each printable ASCII
// (32 to 126), none of them ':'. The empty name is valid.
package fdname

import "fmt"

// MaxLen is the longest name systemd accepts, in bytes.
const MaxLen = 255

// Check returns nil if systemd accepts name, and else an error that says
// what is wrong with it, in words that follow the name.
func Check(name string) error {
	if len(name) > MaxLen {
		return fmt.Errorf("is %d bytes long, at most %d are allowed", len(name), MaxLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c < ' ' || c > '~':
			return fmt.Errorf("holds byte %#02x at offset %d: only printable ASCII is allowed", c, i)
		case c == ':':
			return fmt.Errorf("holds ':' at offset %d", i)
		}
	}
	return nil
}
