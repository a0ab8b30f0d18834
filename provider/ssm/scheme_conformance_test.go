package ssm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/ssm"
)

// callResource is the resource an SSM call the fake served reads: a
// GetParameter name without its :VERSION or :LABEL selector, or the
// Subtree of a GetParametersByPath walk (a walk that is not recursive is
// still reported as the Subtree: the suite must not assume less).
func callResource(c call) provider.Resource {
	switch c.Op {
	case "GetParameter":
		name := c.Name
		// The selector follows the last ":" after the name; in an ARN the
		// name starts after ":parameter".
		start := 0
		if strings.HasPrefix(name, "arn:") {
			start = strings.Index(name, ":parameter")
			if start < 0 {
				start = 0
			} else {
				start += len(":parameter")
			}
		}
		if i := strings.LastIndexByte(name[start:], ':'); i >= 0 {
			name = name[:start+i]
		}
		return provider.Resource{Scheme: "ssm", Path: name}
	case "GetParametersByPath":
		return provider.Resource{Scheme: "ssm", Path: strings.TrimSuffix(c.Path, "/"), Span: provider.Subtree}
	}
	return provider.Resource{Scheme: "ssm", Path: "/unknown-operation/" + c.Op}
}

// recordingScheme is the ssm Scheme on a fresh SSM protocol fake; after
// each Retrieve, every call the fake served is reported as the resource it
// read.
func recordingScheme(t *testing.T, record func(provider.Resource)) provider.Scheme {
	f := newFakeSSM(t)
	seedProd(f)
	f.put("/shared/github-token", "SecureString", "v1")
	f.put("/shared/github-token", "SecureString", "v2", "current")
	f.put("plain", "SecureString", "plain-value")
	inner := ssm.Scheme(f.config(identityA), func(o *ssm.Options) { o.Backoff = noDelay; o.MaxAttempts = 1 })
	return provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		tgt, err := inner.Open(ref)
		if err != nil {
			return tgt, err
		}
		read := tgt.Provider
		tgt.Provider = provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
			before := len(f.Calls())
			c, err := read.Retrieve(ctx, profile)
			for _, call := range f.Calls()[before:] {
				record(callResource(call))
			}
			return c, err
		})
		return tgt, nil
	})
}

var schemeValid = []string{
	"ssm:/mcp/prod/",
	"ssm:/mcp/prod/db/",
	"ssm:/mcp/",
	"ssm:/mcp/nosuch/",
	"ssm:/mcp/prod/token#token",
	"ssm:/mcp/prod/token?version=1#token",
	"ssm:/shared/github-token#token",
	"ssm:/shared/github-token?version=1#token",
	"ssm:/shared/github-token?label=current#github_token",
	"ssm:/shared/github-token?label=nosuch#token",
	"ssm:/shared/github-token?version=9#token",
	"ssm:/mcp/nosuch#token",
	"ssm:plain#value",
	"ssm:arn:aws:ssm:eu-central-1:123456789012:parameter/mcp/prod/token#token",
	"ssm:arn:aws:ssm:eu-central-1:123456789012:parameter/mcp/prod/token?version=1#token",
	"ssm:/aws/reference/secretsmanager/mcp#token",
}

var schemeInvalid = []string{
	"ssm:",
	"ssm:/",
	"ssm://",
	"ssm:/mcp/prod/#token",
	"ssm:/mcp/prod/?version=3",
	"ssm:/mcp/prod/?label=current",
	"ssm:/mcp/prod/token",
	"ssm:/mcp/prod/token#Token",
	"ssm:mcp/prod/token#token",
	"ssm:/mcp/pr od/token#token",
	"ssm:/mcp//prod/",
	"ssm:/mcp/pr od/",
	"ssm:mcp/prod/",
	"ssm:/mcp/prod/*",
	"ssm:/mcp/prod/**",
	"ssm:/mcp/*/token#token",
	"ssm:/mcp/token:3#token",
	"ssm:/mcp/token:current#token",
	"ssm:/mcp/token:0#token",
	"ssm:/mcp/token?version=0#token",
	"ssm:/mcp/token?version=x#token",
	"ssm:/mcp/token?version=1&label=current#token",
	"ssm:/mcp/token?label=awslabel#token",
	"ssm:/mcp/token?label=2024#token",
	"ssm:/mcp/token?profile=x#token",
	"ssm:/aws/x#token",
	"ssm:/ssm/",
	"ssm:/mcp/./token#token",
	"ssm:/mcp/./",
	"ssm:arn:aws:s3:::bucket/x#token",
	"ssm:/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q#token",
}

func schemeConfig() providertest.SchemeConfig {
	return providertest.SchemeConfig{Name: "ssm", New: recordingScheme, Valid: schemeValid, Invalid: schemeInvalid}
}

func TestSchemeConformance(t *testing.T) {
	providertest.RunScheme(t, schemeConfig())
}

func FuzzSchemeRef(f *testing.F) {
	for _, s := range append(append([]string(nil), schemeValid...), schemeInvalid...) {
		f.Add(s)
	}
	cfg := schemeConfig()
	f.Fuzz(func(t *testing.T, ref string) { providertest.CheckSchemeRef(t, cfg, ref) })
}
