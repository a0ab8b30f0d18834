// Package keychain is a [provider.Provider] backed by the operating system's
// keychain through github.com/zalando/go-keyring: the macOS Keychain, the
// Windows Credential Manager, and the Secret Service (GNOME Keyring,
// KeePassXC) on Linux and the BSDs. It also stores, lists and deletes
// profiles, which is what the credctl example command is built on.
//
// # Naming
//
// Each field of a profile is its own keychain item:
//
//	service = "mcpcred:" + PROFILE      (Options.Service + ":" + profile)
//	account = FIELD                     (access_key_id, token, ...)
//	secret  = the value, as is
//
// On Linux these are the Secret Service attributes service= and username=;
// on macOS the generic password's service (-s) and account (-a); on Windows
// the generic credential whose target name is "mcpcred:PROFILE:FIELD".
//
// One item per field, rather than one item per profile holding JSON, is
// chosen so that a credential stored by hand is found: a user can write
//
//	secret-tool store --label='mcpcred work token' service mcpcred:work username token
//	security add-generic-password -s mcpcred:work -a token -w
//
// and read it back with secret-tool lookup or security find-generic-password
// -w, without composing or parsing JSON in a shell. It also makes the size
// limit apply to each value rather than to a whole profile, and lets one
// field be rotated without rewriting the others. The cost is one keychain
// call per field, and no atomic update of several fields: a Retrieve racing
// a Store may see some old and some new values (the resolver's cache makes
// that window rare; store rotated credentials before using them).
//
// Profile names may not contain ":", spaces or control characters and are at
// most [MaxProfileLen] bytes; field names are letters, digits, '_', '.' and
// '-' starting with a letter or digit, at most [MaxFieldLen] bytes. Windows
// joins service and account with ":", so a ":" in either would let two
// different (profile, field) pairs name the same credential.
//
// # References
//
// [Scheme] serves credential references (see provider.ParseRef) in a
// provider.Schemes, for the "source" of a profile in a profiles file and a
// request's credential_id. They map onto the naming above:
//
//	keychain:ops                    profile ops: the items of service mcpcred:ops
//	keychain:ops#github_pat         one item: service mcpcred:ops, account github_pat
//	keychain:mcpcred/ops            the same as keychain:ops: SERVICE/PROFILE is service SERVICE:PROFILE
//	keychain:acme/ops#token         service acme:ops, account token
//	keychain:                       profile default
//
// The prefix before "/" replaces Options.Service (default "mcpcred") for
// that reference; it is not an account name. A whole profile is read as
// Retrieve reads it (the fields its index item lists, else the probed
// Options.Fields), so hand-made items under other names need the #FIELD
// form, which reads that one item whether or not an index lists it. Profile,
// prefix and field names follow the rules above (no ":", spaces or control
// characters; field names cannot start with "_", so the index items cannot
// be read this way). A resolver allowlist pattern "keychain:*" admits bare
// profiles only, since "*" does not cross "/". Malformed references are
// refused with an error wrapping provider.ErrInvalidRef that names the part
// (body or fragment) that is wrong.
//
// # Listing
//
// go-keyring cannot enumerate items, so the package keeps two index items,
// themselves ordinary keychain items holding JSON (names only, no values):
//
//	service "mcpcred:PROFILE", account "_fields":   {"version":1,"fields":[...]}
//	service "mcpcred",         account "_profiles": {"version":1,"profiles":[...]}
//
// [Provider.Store], [Provider.Put] and the deletes keep them up to date. Retrieve reads
// the fields listed in a profile's "_fields" item; a profile without one
// (created with secret-tool, security or cmdkey) is probed for the names in
// Options.Fields, by default [DefaultFields] (the canonical names such as
// access_key_id and token). So a hand-made item under another name is found
// only once it is listed: store it with credctl, or add the name to
// Options.Fields. [Provider.Profiles] lists only profiles written through
// this package. Two processes writing the same profile at the same instant
// can lose one index update (the last write wins); the items themselves are
// not lost, and the next Store repairs the index.
//
// # Deleting
//
// [Provider.Delete] removes a whole profile and [Provider.DeleteFields]
// named fields of it (or, with no names, the whole profile, reporting
// nothing to delete as provider.ErrNotFound where Delete returns nil).
// When either returns nil, nothing it deleted can be read any
// more. Several items can match one service and account (made by hand with
// other attributes), and go-keyring's Delete removes one of them, so Delete
// repeats each delete until the keyring reports no such item, then reads
// the name back and fails with [ErrNotDeleted] if the keychain still serves
// it. Deleting a whole profile removes the fields its index lists, the
// probed names (Options.Fields and [DefaultFields]) whether or not an index
// lists them, the index, and every other item under the profile's service
// (go-keyring's DeleteAll: a Secret Service search by service, macOS
// `security delete-generic-password -s`, Windows target prefix), so neither
// Retrieve nor any keychain:PROFILE#FIELD reference resolves afterwards. A
// custom [Keyring] without DeleteAll loses only that last step: items under
// names nothing lists stay.
//
// # Storing
//
// [Provider] and the Provider of every [Scheme] Target are a
// provider.Store, for a server that writes its users' credentials (a
// profiles file's per-subject source such as keychain:users/{sub}). They
// write exactly the items Retrieve reads, with the naming, limits and
// errors above. Put replaces a profile: one item per field, an index item
// listing exactly those fields, and the items of names Retrieve read before
// and the new credentials lack deleted, so Retrieve returns exactly what
// was put. For a keychain:PROFILE#FIELD reference the credentials hold
// exactly the field FIELD and only that item is written or deleted.
// Delete removes what Retrieve reads (nothing there is not an error).
// CompareAndSwap reads what Retrieve would return, compares it with the
// old credentials (provider.Credentials.Equal; none stored matches zero
// Credentials) and writes the new ones, or returns an error wrapping
// provider.ErrConflict. Every write of a Provider takes a lock shared by all
// the Providers of the process under the same service prefix, so
// CompareAndSwap is atomic within one process; the keychain offers no lock
// to other processes, so it is not atomic across processes on the host (the
// last write wins). Credentials that several processes refresh belong in a
// store that is (provider/vault, provider/encfile). A write makes the next
// read of the items it wrote ask the keychain again: it never joins a read
// that started before it.
//
// # Size limits
//
// Windows keeps at most 2,560 bytes per credential and macOS's `security`
// path about 3,000 after go-keyring's base64 encoding, so Store refuses a
// value over [MaxValueBytes] (2,560, Options.MaxValueBytes) with a
// [*SizeError] before writing anything: values are never truncated or split.
// Every write is read back and compared; a difference is [ErrReadBack].
// Empty values are refused ([ErrEmptyValue]); Delete removes fields. Values
// may hold any bytes, including newlines and non-UTF-8.
//
// # Deadlines
//
// go-keyring's calls take no context and can block for ever: on Linux a
// locked collection waits for an unlock prompt, and a D-Bus daemon that
// stops answering never replies. Every call therefore runs on its own
// goroutine while the caller waits for it or for ctx; when ctx has no
// deadline, Options.Timeout (default [DefaultTimeout]) applies to each call.
// A call that runs out of time is [provider.ErrUnavailable] and [ErrTimeout]
// (and wraps [context.DeadlineExceeded]); the resolver moves on and may serve
// a cached value.
//
// A goroutine blocked inside go-keyring cannot be killed, so the number of
// them is bounded by a [Limiter]: at most its limit of keyring calls run at
// once, counting calls whose caller has given up; a call waits at most
// Options.Timeout for a free slot and then fails with [ErrBusy]
// (unavailable). The bound belongs to the Limiter, not to a Provider: New
// makes one of Options.MaxInFlight (default [DefaultMaxInFlight]) calls
// unless Options.Limiter gives one, and a [Scheme] makes one and shares it
// among every Provider it builds for any prefix, profile or field, so no
// stream of references, and no Provider the Scheme drops and rebuilds, gets
// past it. Give the same Limiter to New and Scheme to bound the whole
// process. Concurrent reads of the same item share one call. If a keyring
// wedges for good, at most the limit's goroutines stay blocked and the
// providers report themselves unavailable until they return (restarting the
// keyring daemon usually makes them return).
//
// # No keyring
//
// On a machine with no keyring service at all (headless Linux or CI without
// a D-Bus session bus, or a bus with no Secret Service on it) Retrieve
// returns an error wrapping [provider.ErrNotFound] and [ErrNoKeyring] whose
// message says which is missing: the provider has nothing, permanently, and
// a resolver moves past it without treating it as an outage. Once the
// service has answered, its disappearance (the daemon stopped) is
// [provider.ErrUnavailable] instead, and the provider recovers by itself
// when the service comes back. A locked keyring that cannot be unlocked
// without a prompt is [provider.ErrUnavailable] and [ErrLocked]. Other
// errors from the OS keychain are [provider.ErrUnavailable]; only a corrupt
// index item is a plain failure.
//
// # Secrets
//
// Values are returned as [provider.Secret]s. Errors name the service and
// account, never a value; messages from the keychain are scrubbed of the
// value being written. Logging (Options.Logger, default discard) records
// names and byte counts only.
//
// # Testing
//
// The tests run against a real Secret Service: .ci/keyring-tests.sh starts a
// private D-Bus session and a throwaway gnome-keyring-daemon in temporary
// directories and runs them. Without it they skip, or fail when CI=true.
package keychain
