// Package securefile reads small configuration files that hold, or point
// at, credentials: it resolves symlinks, refuses a file or directory that
// others can access, bounds the size, and parses a file again only when its
// contents changed. It is shared by provider/file, provider/secretfile and profile.
//
// # Checks
//
// Every [File.Load] resolves symlinks and opens the real file with
// O_NOFOLLOW|O_NONBLOCK, so a symlink or FIFO swapped in at the last moment
// is neither followed nor blocks the caller; anything but a regular file is
// refused. On Unix the file, the directory it really is in and, when the
// configured path is a symlink from elsewhere, the directory holding the
// link are checked against the [Policy] and must be owned by this user or
// root.
//
// The whole path is checked too, the way OpenSSH's StrictModes checks a
// user's ~/.ssh: the path is resolved one name at a time, as the kernel does,
// and every directory a name is looked up in (each ancestor of the real file
// up to /, and the directory holding each symlink met on the way, at every
// level, links inside a link's target included) must be owned by this user
// or root and not be writable by group or others, since whoever can write to
// a directory can replace or repoint what it holds. A sticky directory such
// as /tmp is writable by everyone and is accepted only as such: when the
// entry looked up in it belongs to this user or root. [CheckPath] and
// [CheckInfo] offer the same checks to packages that open files themselves.
//
// A violation is a [*PermissionError] wrapping [ErrInsecurePermissions]
// that names the offending file or directory and the command that fixes it
// (chmod or chown, with the path single-quoted when it needs quoting), or,
// with Options.Insecure, a warning logged once per distinct problem. A
// missing file is an error wrapping fs.ErrNotExist whose message is the
// whole reason (it names a dangling symlink as such). A file over
// Options.MaxSize wraps [ErrTooLarge].
//
// # Caching
//
// The contents are read again unless the stat data (device, inode, size,
// mtime, ctime) matches the last reading and that reading was settled: made
// more than a few seconds after the file's last change, so any later write
// has a later timestamp. A reading that is not settled is hashed, and the
// contents are parsed again only when the SHA-256 differs. This catches a
// same-size rewrite within one timestamp tick, on any file system. Every load
// still resolves symlinks, opens and stats the file and checks permissions
// (that is the point); an unchanged file then costs one atomic load, no lock
// and no parse.
//
// # Insecure mode
//
// [InsecureFromEnv] reads MCP_INSECURE_MODE with strconv.ParseBool, for
// every package that offers the switch.
package securefile
