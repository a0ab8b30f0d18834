package env_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// conformanceEnv is the environment the conformance suite reads: variables
// for every form, and neighbours a reference must not reach.
var conformanceEnv = map[string]string{
	"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
	"AWS_SECRET_ACCESS_KEY": canary,
	"AWS_REGION":            "eu-west-1",
	"MCP_CI_TOKEN":          "ci-token",
	"MCP_CI_USERNAME":       "bot",
	"MCP_CIX":               "neighbour",
	"MCP_OTHER":             "neighbour",
	"GITHUB_TOKEN":          "ghp_example",
	"JIRA_USER":             "me",
	"JIRA_PASSWORD":         "pw",
	"X_FILE":                "x",
}

// recordingScheme is the env Scheme on a fake environment whose Getenv
// reports each variable read as the resource env:NAME. The Provider looks a
// variable up as NAME and then NAME_FILE; that second lookup is NAME's file
// form, which env:NAME covers, and is not reported again. Environ, which
// prefix mode lists names with, reads no value the Provider keeps: the
// values come through Getenv.
func recordingScheme(t *testing.T, record func(provider.Resource)) provider.Scheme {
	getenv, environ := fakeEnv(conformanceEnv)
	var (
		mu   sync.Mutex
		last string
	)
	return env.Scheme(func(o *env.Options) {
		o.Getenv = func(k string) string {
			mu.Lock()
			fileForm := last != "" && k == last+env.FileSuffix
			last = k
			mu.Unlock()
			if !fileForm {
				record(provider.Resource{Scheme: "env", Path: k})
			}
			return getenv(k)
		}
		o.Environ = environ
	})
}

var schemeValid = []string{
	"env:",
	"env:MCP_CI_*",
	"env:MCP_*",
	"env:M*",
	"env:GITHUB_TOKEN",
	"env:GITHUB_TOKEN#token",
	"env:GITHUB_TOKEN#github_token",
	"env:JIRA_USER,JIRA_PASSWORD",
	"env:JIRA_USER,JIRA_PASSWORD,GITHUB_TOKEN",
	"env:X_FILE",
	"env:lower_case",
	"env:_UNDERSCORE",
	"env:UNSET_VARIABLE",
}

var schemeInvalid = []string{
	"env:#token",
	"env:*",
	"env:**",
	"env:MCP_*_*",
	"env:MCP-CI_*",
	"env:MCP_CI_*#token",
	"env:*_TOKEN",
	"env:1PASSWORD",
	"env:GITHUB TOKEN",
	"env:A,,B",
	"env:A,",
	"env:,A",
	"env:A,B#token",
	"env:GITHUB_TOKEN#Token",
	"env:TOKEN,token",
	"env:A,A",
	"env:GITHUB_TOKEN?version=1",
	"env:?profile=x",
	"env:A/B",
	"env:" + strings.Repeat("A,", 40) + "A",
	"env:" + strings.Repeat("A", 129),
}

func schemeConfig() providertest.SchemeConfig {
	return providertest.SchemeConfig{Name: "env", New: recordingScheme, Valid: schemeValid, Invalid: schemeInvalid}
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
