//go:build unix

package file

import (
	"io/fs"
	"os"
	"syscall"
)

// permChecks says whether this platform checks permissions; see the package
// documentation, "Permissions".
const permChecks = true

// openFlags: O_NONBLOCK so that a FIFO put in the file's place cannot block
// Retrieve (the file is then refused as not regular), O_NOFOLLOW so that a
// symlink swapped in after the path was resolved is not followed.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOFOLLOW

// checkPerm returns a *PermissionError if group or others have any access to
// fi, or if it is owned by neither this process's user nor root.
func checkPerm(path string, fi fs.FileInfo, uid int) *PermissionError {
	if m := fi.Mode().Perm(); m&0o077 != 0 {
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
