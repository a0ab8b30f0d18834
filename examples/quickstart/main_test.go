package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	for _, k := range []string{"HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "MCP_CREDENTIALS_FILE", "MCP_CREDENTIAL_PROFILE"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Setenv(k, v) // restored after the test
		} else {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	s := out.String()
	for _, want := range []string{
		"chain: env → file → secretfile",
		"from env (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY)",
		"/.mcp/credentials [default])",
		"/.mcp/credentials [production])",
		"from secretfile (",
		"from request (credentials in the tool call)",
		`no credentials for profile "staging"`,
		"has mode 0644: group and others must have no access; fix with: chmod 600",
		"region = us-west-2",
	} {
		assert.Contains(t, s, want)
	}
	for _, secret := range []string{"wJalrXUtnFEMI", "EXAMPLEKEY", "prod/secret", "AKIAFILEEXAMPLE", "AKIAENVEXAMPLE", "AKIADOCKEREXAMPLE", "AKIAREQUESTEXAMPLE"} {
		assert.NotContains(t, s, secret)
	}
	assert.Regexp(t, `fingerprint before sha256:[0-9a-f]{8}…, after sha256:[0-9a-f]{8}…`, s)
}
