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
//	    "prod":    {"source": "file:production", "region": "us-west-2"},
//	    "ci":      {"source": "env:MCP_CI_*"},
//	    "ops":     {"source": "keychain:mcpcred/ops"},
//	    "vault":   {"source": "vault:secret/data/mcp/aws"},
//	    "ssm":     {"source": "ssm:/mcp/prod/"},
//	    "lab":     {"credentials": {"access_key_id": "AKIA...", "secret_access_key": "..."}},
//	    "team":    {"source": "vault:secret/data/mcp/team",
//	                "allow": {"subjects": ["alice", "bob"], "groups": ["sre"], "issuers": ["https://idp.example.com"]}},
//	    "mine":    {"source": "vault:secret/data/mcp/users/{sub}#token",
//	                "allow": {"issuers": ["https://idp.example.com"]}}
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
// text it reads. [Provider.Allows], used as resolver.Options.AllowProfile,
// lets a request name exactly the profiles the operator wrote in the file
// and offered to the request's caller; MCP_ACTIVE_PROFILE ([ActiveProfile])
// picks the one used when a request names none. A profile that is defined
// gives a definite answer and never falls through, for any reason, to an
// unrelated provider that knows the same name: every failure to produce its
// credentials wraps provider.ErrFinal. Its source has nothing
// ([ErrSourceEmpty]), is unavailable or unknown, its credentials lack a
// field of Options.Required ([ErrIncomplete], naming the missing fields), or
// have expired ([ErrExpired]), or it is not offered to the caller
// ([ErrNotOffered]). Set Options.Required to the resolver's Required: the
// resolver checks required fields itself after a provider answers, and
// reports a miss as not found, which would move on to the next provider.
//
// # Who may use a profile
//
// A stdio server has one user, who started it; a remote server has many,
// each a verified provider.Caller that its transport took from a bearer
// token. A profile's "allow" names the callers that may use it:
//
//	"allow": {"subjects": ["alice"], "groups": ["sre"], "clients": ["desktop"], "issuers": ["https://idp.example.com"]}
//
// A caller matches when its token's sub is one of "subjects" or one of its
// groups is one of "groups" (when either is given), its OAuth client is one
// of "clients" (when given), and its issuer is one of "issuers" (when
// given). Values are compared exactly. Every list given must name at least
// one value, and "allow" must give at least one list; {"issuers": [ISSUER]}
// offers the profile to every user of that issuer. Unknown keys are errors.
//
// A profile without "allow" is offered only where there is no verified
// caller: on stdio, where the operator is the user. A remote server offers
// nothing by default: its token check may admit everyone an identity
// provider knows, and a profiles file written for one user must not become
// everyone's the day the server goes remote, so each profile says whom it
// is for. For the same reason a profile with "allow" is never offered on
// stdio (there is no caller to match).
//
// The policy applies to every way of reaching a profile: to a profile a
// request names ([Provider.Allows], which the resolver asks first and whose
// refusal reads the same whether the profile is undefined or not offered),
// and to the default profile, which the resolver does not ask about:
// Retrieve refuses it with an error wrapping [ErrNotOffered],
// provider.ErrNotFound and provider.ErrFinal, so it never falls through to a
// provider that knows the same name. A profile that is not defined is
// reported with the list of the profiles this caller may use, and no other.
//
// # Per-subject sources
//
// A source may be a template bound to the caller: [SubjectPlaceholder]
// ("{sub}") stands for one whole path segment of the reference's body, and
// is replaced by the caller's subject as [EncodeSubject] writes it:
//
//	"vault:secret/data/mcp/users/{sub}#token"  alice reads secret/data/mcp/users/sub-alice
//	"ssm:/mcp/users/{sub}/"                    the parameters under /mcp/users/sub-alice/
//	"keychain:{sub}"                           keychain profile sub-alice (service mcpcred:sub-alice)
//	"secretfile:/run/secrets/users/{sub}"      /run/secrets/users/sub-alice(.json|.ini|/)
//	"file:{sub}"                               section [sub-alice] of ~/.mcp/credentials
//
// The segment is "sub-" followed by the subject with every byte other than
// a-z, 0-9 and '-' written as '_' and two upper-case hex digits
// ("Alice@example.com" is "sub-_41lice_40example_2Ecom"), so it is never
// empty, "." or "..", holds no separator, no character a reference gives a
// meaning to and nothing outside ASCII, and distinct subjects never share
// one, even on a backend that ignores case. Provision each user's secret
// there ([EncodeSubject] computes the name; [DecodeSubject] reads one back).
// The env scheme takes no '-' in a variable name and so serves no template.
//
// Any other "{...}", "{sub}" twice, in the scheme, params or field, or
// inside a segment ("secret/x{sub}") is a parse error. A template profile
// must have "allow" with exactly one issuer: a subject is unique only within
// its issuer. Before anything is read, the template is opened for a subject
// no caller can have, and its resources, with that subject's segment as
// "sub-*", become a provider.RefPolicy that the caller's Target must pass;
// the caller's Target must also read exactly those resources with its own
// segment. So whatever a subject is, and whatever a scheme makes of it, a
// caller reads its own place and nothing else, or gets an error wrapping
// [ErrSubjectSource] and provider.ErrFinal. A request without a verified
// caller is never offered a template profile. The resolver keys its cache by
// caller and profile, so no caller is served another caller's credential.
// Give subjects a place of their own: a template's place is read only under
// names that begin with "sub-", but other names there of that form would be
// reachable by the subject they encode.
//
// Errors and locators name a profile, a field or a key from the file only
// when provider.Describe finds that it reads as a name, and never repeat a
// source reference (only its scheme).
package profile
