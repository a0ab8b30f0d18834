//go:build !unix

package securefile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// permChecks is false: Windows expresses access with ACLs, not mode bits.
const permChecks = false

const openFlags = os.O_RDONLY

func checkPerm(string, fs.FileInfo, int, fs.FileMode) *PermissionError { return nil }

func ownerOf(fs.FileInfo) int { return -1 }

func keyOf(fi fs.FileInfo) statKey { return statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()} }

func currentUID() int { return -1 }

// walkPath resolves symlinks; there are no mode bits to check.
func walkPath(path string, _ int) (string, *PermissionError, error) {
	real, err := filepath.EvalSymlinks(path)
	return real, nil, err
}
