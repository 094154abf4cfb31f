//go:build !unix

package activation

// On systems without Unix fd passing nothing is ever inherited: the
// environment is not read, and no fd is touched.

func processEnviron() environ { return environ{} }

func inherit(environ) ([]inheritedFD, error) { return nil, nil }

func markCloseOnExec(int) {}

func holdForks() {}

func releaseForks() {}
