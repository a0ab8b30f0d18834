// Package env is a [provider.Provider] that reads credentials from
// environment variables.
//
// # Variables
//
// By default it reads AWS's variables:
//
//	access_key_id      AWS_ACCESS_KEY_ID
//	secret_access_key  AWS_SECRET_ACCESS_KEY
//	session_token      AWS_SESSION_TOKEN
//	region             AWS_REGION, else AWS_DEFAULT_REGION
//
// and requires access_key_id and secret_access_key: AWS_REGION alone is not
// credentials, so with only AWS_REGION set Retrieve reports
// [provider.ErrNotFound] and a resolver moves on. [Options.Vars] replaces
// the mapping with any field-to-variables map (the first variable set wins)
// and [Options.Required] sets the fields that must be present.
//
// An empty variable counts as unset. When nothing is set, Retrieve returns
// an error wrapping [provider.ErrNotFound] whose text names every variable
// looked at. When some but not all required fields are set it returns
// [ErrIncomplete], naming the missing fields and their variables: a
// half-configured environment is a mistake worth reporting.
//
// # Prefix mode
//
// With [Options.Prefix] set to, say, "MCP_CI_", every variable MCP_CI_NAME
// becomes the field strings.ToLower(NAME): MCP_CI_API_TOKEN is "api_token".
// NAME must give a field name (see [PrefixField]): ASCII letters, digits
// and underscores, in words that read as names, such as API_TOKEN or
// Region. Any other variable under the prefix is an error wrapping
// [ErrBadName] that does not show the name unless it reads as one, so a
// token pasted into a variable's name never becomes a field or appears in a
// message. This is what a profile reference env:MCP_CI_* means.
//
// # Files: NAME_FILE
//
// Following the Docker and Kubernetes convention, if a variable NAME is
// unset and NAME_FILE is set, the value is read from the file NAME_FILE
// names, so AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/aws_secret works. One
// trailing newline ("\n" or "\r\n") is removed and nothing else. Files over
// [Options.MaxFileSize] (64 KiB by default) are refused with
// [ErrFileTooLarge], anything but a regular file with [ErrNotRegular], and
// an empty file counts as unset. Setting both NAME and NAME_FILE is an
// error, [ErrConflict], naming both. A NAME_FILE whose file is missing or
// unreadable is an error naming the variable and the path, never content;
// it is not ErrNotFound, because the user asked for that file.
// [Options.DisableFiles] turns indirection off.
//
// # Profiles
//
// The environment is one set of values, so by default the provider answers
// only [provider.DefaultProfile]; asked for "prod" it reports
// [provider.ErrNotFound] rather than handing out whatever the environment
// holds. [Options.Profiles] names the profiles it answers and
// [Options.AllProfiles] makes it answer all of them.
//
// # Source
//
// The returned [provider.Source] has Provider "env" and a Locator listing
// the names of the variables that supplied values, for example
// "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY_FILE". Values never appear in
// Locators, errors or log records.
//
// # References
//
// [Scheme] serves credential references (see provider.ParseRef) in a
// provider.Schemes, for the "source" of a profile in a profiles file and a
// request's credential_id:
//
//	env:                    AWS's variables, as New() reads them
//	env:MCP_CI_*            prefix mode with Prefix "MCP_CI_": MCP_CI_TOKEN is field token
//	env:GITHUB_TOKEN        the variable GITHUB_TOKEN as the field github_token
//	env:GITHUB_TOKEN#token  the variable GITHUB_TOKEN as the field token
//	env:JIRA_USER,JIRA_PASSWORD  fields jira_user and jira_password, both required
//
// Variable names are ASCII letters, digits and '_', not starting with a
// digit; a prefix is such a name followed by one '*'. A #field names the
// field of a single listed variable (a-z, 0-9, '_'); with env:, a prefix or
// a list it is an error. NAME_FILE indirection applies to every form. A
// provider built for a reference answers every profile it is asked for,
// since the reference already says which values it means. Malformed
// references are refused with an error wrapping provider.ErrInvalidRef
// that names the part (body or fragment) that is wrong.
//
// # Testing
//
// [Options.Getenv], [Options.Environ] and [Options.OpenFile] replace the
// process environment and file system, so tests need not touch either.
package env
