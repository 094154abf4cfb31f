//go:build !unix

package activation

import "errors"

// No socket is inherited here, so none is described.

func describe(*inheritedFD) {}

type (
	fileID struct{ dev, ino uint64 }
	sockID uint64
)

func fileOf(string) (fileID, error) { return fileID{}, errors.ErrUnsupported }

func unixSockID(int) sockID { return 0 }

func isV6Only(int) bool { return false }
