package resolver_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// requestCanaries look like secrets a model might paste where a name or a
// reference belongs.
var requestCanaries = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
	"ghp_0123456789abcdefghijABCDEFGHIJ012345",
	"d41d8cd98f00b204e9800998ecf8427e",
	"tail0fd3a9c4e1b2",
}

// TestNoRequestTextInErrorsOrLogs drives every error path of the resolver
// with secret-looking text in every place a request can put text, and checks
// that neither the error nor any log record (at debug level) repeats it.
func TestNoRequestTextInErrorsOrLogs(t *testing.T) {
	for _, c := range requestCanaries {
		t.Run(c[:6], func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var s provider.Schemes
			s.Register("vault", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
				p := provider.WithName(provider.Func(func(ctx context.Context, _ string) (provider.Credentials, error) {
					switch {
					case strings.Contains(ref.Body, "hang"):
						<-ctx.Done()
						return provider.Credentials{}, ctx.Err()
					case strings.Contains(ref.Body, "gone"):
						// A provider names its locator, which came from the request.
						return provider.Credentials{}, provider.NotFound("vault", "", ref.Body, "no secret at "+ref.String())
					case strings.Contains(ref.Body, "ok"):
						return provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: "AKID"}, provider.Source{Provider: "vault", Locator: ref.Body}), nil
					}
					return provider.Credentials{}, provider.Unavailable("vault", "", "", nil)
				}), "vault")
				return vaultTarget(ref, p)
			}))
			r := mustNew(t, []provider.Provider{provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
				return provider.Credentials{}, provider.NotFound("none", "", "", "nothing")
			}), "none")}, func(o *resolver.Options) {
				o.References = &s
				o.AllowReferences = allow(t, "vault:mcp/**")
				o.AllowProfile = func(_ *provider.Caller, n string) bool { return n == c }
				o.Required = []string{provider.FieldAccessKeyID}
				o.AllowRequestCredentials = true // so their validation errors are driven too
				o.ProviderTimeout = 20 * time.Millisecond
				o.Logger = logger
			})
			ctx := context.Background()
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			var errs []error
			try := func(ctx context.Context, req resolver.Request) {
				_, err := r.Resolve(ctx, req)
				require.Error(t, err, "%+v", req)
				errs = append(errs, err)
			}
			for _, req := range []resolver.Request{
				{Profile: c},                           // offered, nothing there: ChainError
				{Profile: c + "x"},                     // refused
				{Profile: c + "/x"},                    // invalid
				{Profile: " " + c},                     // invalid
				{CredentialID: c},                      // no scheme
				{CredentialID: "vault:" + c},           // refused by policy
				{CredentialID: "vault:mcp/" + c + "/"}, // allowed, unavailable
				{CredentialID: "vault:mcp/gone/" + c},  // allowed, not found
				{CredentialID: "vault:mcp/hang/" + c},  // allowed, times out
				{CredentialID: "vault:mcp/" + c + "?version=" + c},
				{CredentialID: "vault:mcp/x#" + c},
				{CredentialID: "nosuch:" + c},
				{CredentialID: c + ":" + strings.ToLower(c)},
				{Credentials: provider.NewCredentials(map[string]string{c: "v"}, provider.Source{})},
				{Credentials: provider.NewCredentials(map[string]string{"x" + strings.ToLower(c): c}, provider.Source{})},
			} {
				try(ctx, req)
			}
			try(canceled, resolver.Request{CredentialID: "vault:mcp/" + c})
			try(canceled, resolver.Request{Profile: c})
			res, err := r.Resolve(ctx, resolver.Request{CredentialID: "vault:mcp/ok/" + c})
			require.NoError(t, err)
			assert.NotContains(t, fmt.Sprintf("%v %+v %s", res.Credentials, res.Credentials, res.Credentials.Source.Locator), c)
			for _, err := range errs {
				msg := fmt.Sprintf("%v %+v", err, err)
				assert.NotContains(t, msg, c)
				assert.NotContains(t, msg, strings.ToLower(c))
			}
			assert.NotContains(t, logs.String(), c)
			assert.NotContains(t, logs.String(), strings.ToLower(c))
			assert.NotContains(t, logs.String(), "\\x00ref:", "logs never show internal cache keys")
		})
	}
}
