// Package secretfile is a [provider.Provider] that reads credentials from a
// secrets directory, as mounted by Docker (secrets:) and Kubernetes (secret
// volumes): /run/secrets by default, [Options.Dir] otherwise.
//
// # Layouts
//
// For a profile P the provider looks, in this order, and uses the first
// that exists (layouts are never merged):
//
//  1. Options.Files[P]: a file name in Dir chosen by the user, such as
//     {"default": "aws_credentials"} for a Docker secret named
//     aws_credentials. A name that does not exist falls through.
//  2. <Dir>/P.json: a JSON object of strings.
//  3. <Dir>/P.ini: an INI file.
//  4. <Dir>/P/: a directory with one file per field, such as
//     /run/secrets/prod/access_key_id. Every regular file not starting with
//     '.' is a field (so Kubernetes' ..data entries are skipped).
//  5. Only for [provider.DefaultProfile]: one file per field directly in
//     Dir, such as /run/secrets/access_key_id, for the names in
//     [Options.Fields] (by default the canonical fields: access_key_id,
//     secret_access_key, session_token, region, token, username,
//     password). Other files in Dir are not read.
//
// If none exists, or Dir does not exist, Retrieve reports
// [provider.ErrNotFound] naming the files it looked for.
//
// # File formats
//
// A file from layout 1 is JSON if its name ends in .json or its first
// non-blank character is '{', and INI otherwise.
//
// JSON files hold one object whose values are strings; a null value counts
// as absent and any other non-string is an error ([ErrNotString]) naming the
// file and key. Two AWS shapes are read as they are: "aws sts assume-role"
// output, whose credentials sit under "Credentials" (siblings such as
// AssumedRoleUser are ignored), and credential_process output, with a
// numeric "Version". Syntax errors ([ErrSyntax]) give the file and
// line:column, never the content.
//
// INI files are read with gopkg.in/ini.v1, with inline comments and
// continuation lines turned off so that values may hold '#', ';' and a
// trailing '\'. The section named P is used, else "[profile P]", else the
// keys before the first section; if none has keys that is [ErrNoSection].
// Several profiles may share one file through Options.Files.
//
// Keys map to field names with [CanonicalField]: aws_access_key_id and
// AccessKeyId become access_key_id, likewise for the secret access key and
// session token; other keys are passed through unchanged. Two keys giving
// one field are an error ([ErrDuplicate]). "Expiration" (or
// aws_credential_expiration), an RFC 3339 time, sets
// [provider.Credentials].Expires rather than a field. In per-field files
// one trailing newline is removed. Empty values count as absent.
//
// # Safety
//
// Profile names are checked with [ValidName] before any file is touched: a
// name with a path separator, a leading '.', "..", a control character or
// more than [MaxNameLen] bytes is refused with an error wrapping both
// [ErrInvalidProfile] and [provider.ErrNotFound], so a hostile name
// cannot reach outside Dir and a resolver simply moves on.
//
// Symlinks are followed, as Kubernetes mounts each key as a symlink into a
// ..data directory, but only to targets inside Dir: each path is resolved
// name by name and checked, then opened through an [os.Root] on Dir, and a
// link that leads out is [ErrOutsideDir]. Dir itself may be a symlink.
//
// On Unix, files are trusted only when nobody else can replace them, by the
// rule the credentials file follows (OpenSSH's StrictModes): every
// directory met while resolving Dir and each file (each ancestor up to /,
// and the directory holding each symlink, at every level) must be owned by
// this user or root and not be writable by group or others, except a sticky
// directory such as a tmpfs mount whose entry belongs to this user or root;
// secret files and per-field directories must not be writable by group or
// others and belong to this user or root. Reading by others is allowed
// (Docker mounts secrets 0444, Kubernetes 0644 by default). A violation is
// an error wrapping [ErrInsecurePermissions] that names the directory or
// file and the chmod or chown command that fixes it; with [Options.Insecure]
// or MCP_INSECURE_MODE set to a true value it is a warning logged to
// Options.Logger instead. Files over [Options.MaxFileSize] (64 KiB by
// default) are refused with [ErrFileTooLarge], and directories or devices
// where a file belongs with [ErrNotRegular]. Errors name files, lines and
// keys, never values.
//
// # References
//
// [Scheme] serves credential references (see provider.ParseRef) in a
// provider.Schemes, for the "source" of a profile in a profiles file and a
// request's credential_id:
//
//	secretfile:aws-prod             profile aws-prod in /run/secrets (or Options.Dir)
//	secretfile:                     the default profile there
//	secretfile:/var/run/mcp/aws     profile aws in the directory /var/run/mcp
//	secretfile:aws-prod#token       one field of a profile
//
// A body that does not start with "/" is a secret name and must pass
// [ValidName]; otherwise it is an absolute path, whose last segment is the
// name and the rest the directory. The name is read exactly as Retrieve reads a profile, with
// every layout and all the safety rules above; the provider built for a
// reference answers with it whatever profile it is asked for. Malformed
// references are refused with an error wrapping provider.ErrInvalidRef that
// names the part (body or fragment) that is wrong.
//
// # Rotation
//
// The provider keeps nothing between calls: every Retrieve re-reads the
// files, so secrets rotated by the orchestrator are picked up the next time
// the resolver's cache asks.
package secretfile
