//go:build !unix

package file

import (
	"io/fs"
	"os"
)

// permChecks is false: Windows (and other non-Unix systems) express access
// with ACLs, not mode bits, so the mode and owner checks are skipped there.
// See the package documentation, "Permissions".
const permChecks = false

const openFlags = os.O_RDONLY

func checkPerm(string, fs.FileInfo, int) *PermissionError { return nil }

func keyOf(fi fs.FileInfo) statKey {
	return statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

func currentUID() int { return -1 }
