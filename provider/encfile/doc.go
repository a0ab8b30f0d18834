// Package encfile is a [provider.Store] that keeps credentials in
// encrypted files, one file per credential, for a server on a single host
// that writes its users' credentials (resolver/enroll) without a Vault:
// every replica of the server on that host shares the directory.
//
// # Files
//
// The credential of profile NAME is the file DIR/NAME. It holds a small
// header (the magic "MCEF" and a version byte, 1), a random 12-byte nonce,
// new for every write, and the JSON object of the fields ({"token":"..."})
// sealed with AES-256-GCM. The additional data is the header followed by
// the file's absolute, cleaned path, so a file opens only under the name
// it was written as: a file copied or renamed to another user's name, or
// moved to another directory, fails to open ([ErrCannotOpen]), as does a
// file changed by a single bit or sealed under another key. Moving the
// whole directory therefore means storing the credentials again (or
// reaching the new place through the old path, a symbolic link).
//
// # Key
//
// The key is 32 random bytes: Options.Key, else the variable
// MCPCRED_ENCFILE_KEY holding them in base64, else the file the variable
// MCPCRED_ENCFILE_KEY_FILE names, holding that base64 (the file must be
// private, mode 0600 or 0400, in a private directory, and belong to this
// user or root, checked as provider/file checks a credentials file). Make
// one with
//
//	head -c 32 /dev/urandom | base64
//
// Every process that reads or writes the directory needs the same key.
// [New] fails without a valid key ([ErrNoKey], [ErrBadKey]); a [Scheme]
// opens references without one and fails every read and write.
//
// # Names
//
// A profile (file) name is 1 to 128 bytes of A-Z, a-z, 0-9, '.', '_' and
// '-', not starting with '.' and without ".." ([ValidName]): it is one file
// name, never a path, and names starting with '.' are the package's own
// (the lock file, files being written). Retrieve reports any other name as
// provider.ErrNotFound and [ErrInvalidName]. Field names are letters,
// digits, '_', '.' and '-', starting with a letter or digit, at most 64
// bytes. The per-subject segments of profile.EncodeSubject ("sub-alice")
// are valid names.
//
// # Reading
//
// Retrieve reads the file each time (nothing is cached). A missing file or
// directory is provider.ErrNotFound. As in provider/secretfile, the
// directory and every directory on the way to it must belong to this user
// or root and not be writable by group or others, and the directory must
// be private (mode 0700); a credential file must be a regular file (not a
// symbolic link: it is opened with O_NOFOLLOW), private (0600) and this
// user's. A violation is [ErrInsecurePermissions], naming the directory or
// file and the chmod or chown that fixes it. Files over Options.MaxFileSize
// (64 KiB) are [ErrTooLarge].
//
// # Writing
//
// Put replaces the whole file atomically: the sealed credentials are
// written to a new file (mode 0600) in the same directory, synced, renamed
// over the old file, and the directory is synced, so a reader sees the old
// file or the new one and a crash leaves one of them. The directory is
// made (mode 0700) on the first write if its parent exists. Delete removes
// the file; a missing one is not an error. CompareAndSwap reads the file,
// compares its fields with the old credentials (none stored matches zero
// Credentials) and writes, or returns an error wrapping
// provider.ErrConflict.
//
// Every write holds flock(2) on the directory's lock file, DIR/.encfile.lock
// (made mode 0600), for its read, compare and rename, so CompareAndSwap is
// atomic across every goroutine and process of the host that writes the
// directory: of two replicas refreshing the same OAuth token, exactly one
// stores its result and the other reads it. The lock does not reach other
// hosts (flock over NFS is not reliable): share the directory between
// processes of one host only, and use provider/vault across hosts. On
// platforms without flock(2) (Windows) writes fail. A write waits for the
// lock until ctx's deadline, else Options.LockTimeout (10 s), and then
// fails with provider.ErrUnavailable.
//
// # References
//
// [Scheme] serves references encfile:/DIR/NAME (the file NAME of the
// directory /DIR) and encfile:/DIR/NAME#FIELD (one field of it), whose
// Target's Provider is a [provider.Store]; a profiles file gives each user
// their own file with
//
//	"mine": {"source": "encfile:/var/lib/mcp/users/{sub}", "allow": {"issuers": ["https://idp.example.com"]}}
//
// and profile.Provider.StoreFor gives the server the Store of a caller's
// own file. The Target's resource is the file's path, so a reference
// policy allows encfile:/var/lib/mcp/users/* for that directory.
//
// # Secrets
//
// Values are returned as provider.Secret; the decrypted JSON and the
// plaintext buffers are cleared after use. Errors name the directory and
// the file (its name as provider.Label shows it, so a name that looks like
// a secret is described by its length) and never hold a value or any of a
// file's content. Logging (Options.Logger, default discard) records names
// and byte counts only.
package encfile
