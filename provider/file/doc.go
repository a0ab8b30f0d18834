// Package file provides credentials from an INI credentials file, by default
// ~/.mcp/credentials, laid out like AWS's ~/.aws/credentials:
//
//	[default]
//	aws_access_key_id = AKIA...
//	aws_secret_access_key = ...
//
//	[production]
//	aws_access_key_id = AKIA...
//	aws_secret_access_key = ...
//	region = eu-west-1
//
// [New] returns a [Provider]; its Retrieve(ctx, profile) returns the fields
// of the profile's section as [provider.Credentials] with Source
// {Provider: "file", Locator: "PATH [section]"}.
//
// # Which file
//
// [Options.Path] if set; else the file named by the environment variable
// MCP_CREDENTIALS_FILE; else $HOME/.mcp/credentials (%USERPROFILE% on
// Windows when HOME is unset). Environment variables are read through
// [Options.Getenv] when [New] runs.
//
// # Which section
//
// For [provider.DefaultProfile] (and the empty profile) the section named by
// MCP_CREDENTIAL_PROFILE, read when New runs, or "default" when it is unset.
// Any other profile reads the section of that name. Section names are
// case-sensitive and trimmed of surrounding spaces, as AWS profile names are.
//
// A section written in the AWS config-file style, [profile NAME], is
// accepted for profile NAME when there is no plain [NAME] section: users
// copy sections between ~/.aws/config and credentials files. If a file has
// both [NAME] and [profile NAME], Retrieve fails rather than guess. Sections
// with the same name are merged, later keys winning.
//
// # Keys
//
// Key names are case-insensitive (lower-cased). The AWS spellings map to
// the canonical field names of package provider:
//
//	aws_access_key_id                      access_key_id
//	aws_secret_access_key                  secret_access_key
//	aws_session_token, aws_security_token  session_token
//	region, aws_region, aws_default_region region
//
// The canonical names are accepted as they are; every other key is passed
// through lower-cased (token, username, password, api_key ...). Two
// spellings of one field in one section (aws_region and region) are an
// error. A key with an empty value is left out of the credentials; a
// section with no non-empty value is "not found", naming the empty keys.
// [Options.Required] makes a section lacking given fields "not found" too.
//
// # File format
//
// The file is parsed by gopkg.in/ini.v1 with options chosen so that every
// value is literal: a value is the text after the first '=' or ':' on its
// line, up to the end of the line, with surrounding white space removed.
// Secrets often contain characters that INI dialects treat specially, so:
//
//   - No inline comments. "key = abc#def ;x" has the value "abc#def ;x".
//     Whole-line comments start with '#' or ';'. This is what the AWS CLI
//     (Python's configparser) does; the AWS Go SDK instead cuts at " #" and
//     " ;", which can truncate a secret with a space in it.
//   - No quote removal: key = "abc" has the value "abc" with its quotes.
//   - No escapes, no line continuation (a trailing backslash is part of the
//     value), no %(name)s interpolation, no multi-line values.
//   - A value that starts with a backtick or with """ is refused, since
//     ini.v1 would read it as a quoted, possibly multi-line, string.
//   - Keys before the first [section] header, quoted key names, lines that
//     are neither KEY = VALUE, [section] nor a comment, and UTF-16 files are
//     refused. A UTF-8 byte order mark is skipped.
//   - A key must be a field name: letters, digits and '_' (at most 64),
//     in words that read as names, each in one case or capitalized, such as
//     aws_access_key_id or AWS_Access_Key_ID. A line whose text before '='
//     is anything else, whose value is only '=' signs, or that has an
//     unknown key and no value is refused: that is how the wrapped tail of a
//     long token reads. When such a line follows a KEY = VALUE line, the
//     error says to join the wrapped value onto that line. No such text
//     ever becomes a field.
//
// A value therefore cannot begin or end with white space.
//
// Errors for a malformed file are [*provider.SyntaxError] values wrapping
// [ErrMalformed]; they give the file, the line number and what is wrong,
// never the line's text, which might be a secret pasted in the wrong place. Section
// names, and profile names from a request, appear in errors and locators
// only when provider.Describe finds that they read as names; otherwise by
// their length.
//
// # Permissions
//
// On Unix systems Retrieve refuses the file when group or others have any
// permission bit on it (mode & 0o077 != 0), or on the directory it is in,
// and when either is owned by someone other than the current user or root.
// The check follows symlinks: it applies to the real file and its real
// directory and, when the configured path is a symlink, also to the
// directory that holds the link, since whoever can write there can repoint
// it. Every other directory met while resolving the path (each ancestor up
// to /, and the directory holding each symlink, at every level) must be
// owned by the current user or root and not be writable by group or
// others, as OpenSSH's StrictModes requires; a sticky directory such as
// /tmp is accepted only when the entry in it belongs to the current user
// or root.
// The file must be a regular file. The file is opened without following a
// last-moment symlink and its mode is taken from the open descriptor.
//
// The refusal is a [*PermissionError] wrapping [ErrInsecurePermissions]; it
// names the file or directory, its mode or owner and the fix (chmod 600
// FILE, chmod 700 DIR, chmod go-w DIR, chown UID DIR).
// With MCP_INSECURE_MODE set to a true value ("1", "true"; read when New
// runs), the refusal becomes a warning logged to [Options.Logger] at Warn
// level, naming the path and mode (never content), once per distinct
// problem, and the file is used.
//
// On Windows and other non-Unix systems mode bits do not describe who can
// read a file (ACLs do), so no permission or owner check is made there.
//
// # Changes and caching
//
// The file is looked at on every Retrieve, so a rotated file is used at the
// next call without a restart. Each call resolves symlinks, opens the file
// and checks permissions; the contents are read again only when the file's
// stat data (device, inode, size, modification and change times) differs
// from the last reading, or when that reading happened less than a few
// seconds after the file last changed, because a same-size rewrite within
// one timestamp tick leaves the stat data unchanged. A re-read file is
// parsed again only when its SHA-256 differs. Files larger than
// [Options.MaxSize] (default 1 MiB) are refused with [ErrTooLarge].
//
// # References
//
// [Scheme] serves credential references (see provider.ParseRef) in a
// provider.Schemes, for the "source" of a profile in a profiles file and a
// request's credential_id:
//
//	file:production                          section [production] of the default file
//	file:~/.mcp/work-credentials?profile=ops section [ops] of another file
//	file:/etc/mcp/credentials                section [default] of that file
//	file:                                    section [default] of the default file
//	file:production#access_key_id            one field of a section
//
// The default file is the one New picks (MCP_CREDENTIALS_FILE, else
// ~/.mcp/credentials). A path must be absolute or start with "~/", which is
// the home directory; relative paths, "~user/" and paths ending in "/" are
// refused, so a reference means the same file whatever the working
// directory. A reference names its section (default: [default]), so
// MCP_CREDENTIAL_PROFILE does not apply; [profile NAME] sections are found
// as for Retrieve. Every rule above (permissions, format, rotation) applies
// unchanged. All the references to one file share one Provider and its
// cache. Malformed references are refused with an error wrapping
// provider.ErrInvalidRef that names the part (body or fragment) that is
// wrong.
//
// # Errors
//
// A missing file, section or value wraps [provider.ErrNotFound], so a
// resolver moves on; the message names the path, the section and, for a
// missing section, the sections present. Insecure, malformed, oversized
// or unreadable files are [*provider.Error] failures. No error contains a
// value from the file.
package file
