package file

import "github.com/mcpcred/mcpcred/internal/securefile"

// ErrInsecurePermissions is wrapped by every [*PermissionError]: the
// credentials file or its directory can be read or written by someone other
// than its owner, or belongs to another user. It is the same error as
// profile.ErrInsecurePermissions.
var ErrInsecurePermissions = securefile.ErrInsecurePermissions

// ErrTooLarge is wrapped by the error for a credentials file larger than
// [Options.MaxSize].
var ErrTooLarge = securefile.ErrTooLarge

// PermissionError reports a credentials file or directory that group or
// others can access, or that another user owns. It unwraps to
// [ErrInsecurePermissions] and names the path, its mode and the fix. Its
// message starts with "file: ".
type PermissionError = securefile.PermissionError
