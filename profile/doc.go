// Package profile serves named credential profiles from a profiles file,
// and is the operator's policy of which profiles a request may select.
//
// # The profiles file
//
// The file is JSON, at MCP_PROFILES_PATH (default ~/.mcp/profiles.json).
// Each profile says where its credentials come from by reference, so the
// file itself holds no secret, plus non-secret settings:
//
//	{
//	  "profiles": {
//	    "default": {"source": "env:", "region": "us-east-1"},
//	    "prod":    {"source": "file:#production", "region": "us-west-2"},
//	    "ci":      {"source": "env:MCP_CI_*"},
//	    "ops":     {"source": "keychain:mcpcred/ops"},
//	    "vault":   {"source": "vault:secret/data/mcp/aws"},
//	    "ssm":     {"source": "ssm:/mcp/prod/"},
//	    "lab":     {"credentials": {"access_key_id": "AKIA...", "secret_access_key": "..."}}
//	  }
//	}
//
// References follow provider.ParseRef's grammar. Their schemes are served
// by the provider packages a program imports and registers in a
// provider.Schemes, so this package imports no backend.
//
// Inline credentials are possible, but a file holding any is held to the
// credentials file's rule: no access at all for group or others, on the
// file and its directory. A file of references only must not be writable by
// group or others, since whoever can edit it can redirect the server to
// other credentials. MCP_INSECURE_MODE set to a true value ("1", "true")
// turns these refusals into logged warnings. Every directory on the way to
// the file is checked as well (see internal/securefile: OpenSSH's
// StrictModes rule, symlinks included). A malformed file or invalid profile
// is a [*provider.SyntaxError] wrapping [ErrMalformed], which names the file,
// line and column (an invalid profile's name), and never quotes content.
// Edits take effect on the next resolve, without a restart.
//
// # Selection policy
//
// An MCP server is driven by a model, and a model can be steered by whatever
// text it reads. [Provider.Has], used as resolver.Options.AllowProfile, lets
// a request name exactly the profiles the operator wrote in the file;
// MCP_ACTIVE_PROFILE ([ActiveProfile]) picks the one used when a request
// names none. A profile that is defined gives a definite answer and never
// falls through, for any reason, to an unrelated provider that knows the
// same name: every failure to produce its credentials wraps
// provider.ErrFinal. Its source has nothing ([ErrSourceEmpty]), is
// unavailable or unknown, its credentials lack a field of Options.Required
// ([ErrIncomplete], naming the missing fields), or have expired
// ([ErrExpired]). Set Options.Required to the resolver's Required: the
// resolver checks required fields itself after a provider answers, and
// reports a miss as not found, which would move on to the next provider.
//
// Errors and locators name a profile, a field or a key from the file only
// when provider.Describe finds that it reads as a name, and never repeat a
// source reference (only its scheme).
package profile
