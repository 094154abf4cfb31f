//go:build !unix

package graceful

import "errors"

// handoverSupported: without unix sockets there is no store to hand
// connections to, and Serve never wraps one.
const handoverSupported = false

// awaitRequest is never called: Serve takes no connection back here.
func (c *conn) awaitRequest() (bool, error) { return false, errors.ErrUnsupported }
