//go:build unix

package securefile

import (
	"io/fs"
	"os"
	"syscall"
)

// permChecks says whether this platform checks permissions.
const permChecks = true

// openFlags: O_NONBLOCK so that a FIFO put in the file's place cannot block
// a load (it is then refused as not regular), O_NOFOLLOW so that a symlink
// swapped in after the path was resolved is not followed.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOFOLLOW

func checkPerm(path string, fi fs.FileInfo, uid int, mask fs.FileMode) *PermissionError {
	if m := fi.Mode().Perm(); m&mask != 0 {
		return &PermissionError{Path: path, Dir: fi.IsDir(), Mode: m, Owner: -1}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if owner := int(st.Uid); owner != uid && owner != 0 {
			return &PermissionError{Path: path, Dir: fi.IsDir(), Mode: fi.Mode().Perm(), Owner: owner, UID: uid}
		}
	}
	return nil
}

func keyOf(fi fs.FileInfo) statKey {
	k := statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), uint64(st.Ino)
		k.ctime = ctimeOf(st)
	}
	return k
}

func currentUID() int { return os.Geteuid() }
