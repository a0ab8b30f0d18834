//go:build unix

package securefile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
		return &PermissionError{Path: path, Dir: fi.IsDir(), Mode: modeBits(fi), Owner: -1}
	}
	if owner := ownerOf(fi); owner >= 0 && owner != uid && owner != 0 {
		return &PermissionError{Path: path, Dir: fi.IsDir(), Mode: modeBits(fi), Owner: owner, UID: uid}
	}
	return nil
}

// ownerOf returns fi's owner uid, or -1 if the platform does not say.
func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
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

// maxLinks bounds the symlinks followed while resolving one path, as the
// kernel's own limit (ELOOP) does.
const maxLinks = 40

// walkPath resolves path one component at a time, as the kernel does, and
// checks every directory it looks a name up in: each ancestor of the real
// path up to /, and the directory holding each symlink met on the way, at
// every level (a link inside a link's target included). Such a directory
// must be owned by uid or root and not be writable by group or others,
// unless it is sticky (like /tmp) and the entry looked up in it is owned by
// uid or root: OpenSSH's StrictModes rule, extended to symlinks, since
// whoever can write to a directory can replace or repoint what it holds.
//
// It returns the real path and the first problem found (nil if none); err
// is set when the path cannot be resolved, and wraps fs.ErrNotExist when a
// component is missing.
func walkPath(path string, uid int) (real string, problem *PermissionError, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	root, err := os.Lstat("/")
	if err != nil {
		return "", nil, err
	}
	cur, curInfo := "/", root
	rest := components(abs)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			if curInfo, err = os.Lstat(cur); err != nil {
				return "", problem, err
			}
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", problem, err
		}
		if problem == nil {
			problem = checkDirEntry(cur, curInfo, next, fi, uid)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if links++; links > maxLinks {
				return "", problem, &fs.PathError{Op: "resolve", Path: path, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", problem, err
			}
			if filepath.IsAbs(target) {
				cur, curInfo = "/", root
			}
			rest = append(components(target), rest...)
			continue
		}
		if len(rest) > 0 && !fi.IsDir() {
			return "", problem, &fs.PathError{Op: "resolve", Path: path, Err: syscall.ENOTDIR}
		}
		cur, curInfo = next, fi
	}
	return cur, problem, nil
}

// components splits a slash-separated path into its non-empty names.
func components(p string) []string {
	var out []string
	for c := range strings.SplitSeq(filepath.ToSlash(p), "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// checkDirEntry checks directory dir, in which the name entry (info ei) was
// looked up, by the rule of [walkPath].
func checkDirEntry(dir string, di fs.FileInfo, entry string, ei fs.FileInfo, uid int) *PermissionError {
	if owner := ownerOf(di); owner >= 0 && owner != uid && owner != 0 {
		return &PermissionError{Path: dir, Dir: true, Mode: modeBits(di), Policy: NotWritable, Owner: owner, UID: uid, InPath: true}
	}
	if di.Mode().Perm()&0o022 == 0 {
		return nil
	}
	if di.Mode()&fs.ModeSticky != 0 {
		eo := ownerOf(ei)
		if eo == uid || eo == 0 {
			return nil // /tmp/NAME made by this user or root: others cannot replace it
		}
		return &PermissionError{Path: dir, Dir: true, Mode: modeBits(di), Policy: NotWritable, Owner: -1, UID: uid,
			InPath: true, Entry: entry, EntryOwner: eo}
	}
	return &PermissionError{Path: dir, Dir: true, Mode: modeBits(di), Policy: NotWritable, Owner: -1, InPath: true}
}
