//go:build !unix

package securefile

import (
	"io/fs"
	"os"
)

// permChecks is false: Windows expresses access with ACLs, not mode bits.
const permChecks = false

const openFlags = os.O_RDONLY

func checkPerm(string, fs.FileInfo, int, fs.FileMode) *PermissionError { return nil }

func keyOf(fi fs.FileInfo) statKey { return statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()} }

func currentUID() int { return -1 }
