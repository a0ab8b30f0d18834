package providertest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// kvScheme is a well-behaved scheme over an in-memory store: kv:a/b reads
// the item a/b, kv:a/ walks every item under a, and #field names the one
// field the result holds. Every read is reported to record.
func kvScheme(record func(provider.Resource)) provider.Scheme {
	items := map[string]string{"team/token": "t1", "team/sub/key": "k1", "other/token": "t2"}
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		if err := ref.OnlyParams(); err != nil {
			return provider.Target{}, err
		}
		body := ref.Body
		walk := strings.HasSuffix(body, "/")
		path := strings.TrimSuffix(body, "/")
		for _, seg := range strings.Split(path, "/") {
			if seg == "" || seg == "." || strings.ContainsAny(seg, "*,\\") {
				return provider.Target{}, provider.InvalidRef(ref, "body", "is not a/b or a/ (segments of letters, digits, . _ -)")
			}
		}
		if walk && ref.Field != "" {
			return provider.Target{}, provider.InvalidRef(ref, "field", "is set on a walk")
		}
		res := provider.Resource{Scheme: "kv", Path: path}
		if walk {
			res.Span = provider.Subtree
		}
		p := provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
			record(res)
			fields := map[string]string{}
			for k, v := range items {
				if walk && strings.HasPrefix(k, path+"/") || !walk && k == path {
					fields[strings.ReplaceAll(strings.TrimPrefix(k, path+"/"), "/", "_")] = v
				}
			}
			if len(fields) == 0 {
				return provider.Credentials{}, provider.NotFound("kv", profile, provider.Describe(path), "nothing there")
			}
			c := provider.NewCredentials(fields, provider.Source{Provider: "kv"})
			if ref.Field != "" {
				return provider.OneField(provider.Func(func(context.Context, string) (provider.Credentials, error) { return c, nil }), ref.Field).Retrieve(ctx, profile)
			}
			return c, nil
		})
		return provider.Target{Provider: p, Resources: []provider.Resource{res}}, nil
	})
}

// TestRunScheme runs the scheme suite on a scheme that keeps the contract.
func TestRunScheme(t *testing.T) {
	cfg := providertest.SchemeConfig{
		Name: "kv",
		New:  func(t *testing.T, record func(provider.Resource)) provider.Scheme { return kvScheme(record) },
		Valid: []string{
			"kv:team/token", "kv:team/token#token", "kv:team/", "kv:team/sub/", "kv:other/token", "kv:nosuch",
		},
		Invalid: []string{
			"kv:", "kv:/", "kv:team//token", "kv:team/*", "kv:team/token?version=1", "kv:team/#token", "kv:a,b",
		},
	}
	providertest.RunScheme(t, cfg)
}
