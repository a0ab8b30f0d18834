package resolver

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/mcpcred/mcpcred/provider"
)

// Selection is the credential part of a tool's input. Embed
// it in a tool's input struct; its JSON and jsonschema tags give the schema
// (an optional credentials object, credential_profile and credential_id,
// with descriptions) to any schema generator that reads them, including the
// MCP Go SDK's, without this package depending on an MCP SDK:
//
//	type AddInput struct {
//		resolver.Selection
//		SecurityGroupID string `json:"security_group_id" jsonschema:"the security group, sg-..."`
//	}
//
// Then in the handler: res, err := r.Resolve(ctx, in.Selection.Request()).
// The operator's policy in [Options] decides which of these a request may use.
type Selection struct {
	Credentials       *RequestCredentials `json:"credentials,omitempty" jsonschema:"Optional: credentials for this call only, overriding the server's environment. Usually omitted: the server resolves credentials itself."`
	CredentialProfile string              `json:"credential_profile,omitempty" jsonschema:"Optional: a named credential profile offered by the server operator"`
	CredentialID      string              `json:"credential_id,omitempty" jsonschema:"Optional: a credential reference such as vault:secret/data/mcp/aws, if the operator allows references"`
}

// Request turns the selection into a resolver Request.
func (s Selection) Request() Request {
	req := Request{Profile: s.CredentialProfile, CredentialID: s.CredentialID}
	if s.Credentials != nil {
		req.Credentials = s.Credentials.Credentials()
	}
	return req
}

// RequestCredentials are AWS-style credentials passed in a tool call, the
// credentials object of a tool's input. On the wire each field is a JSON string,
// and schema generators describe it as one; in memory the key ID, secret key
// and session token are [provider.Secret] values, masked, so no printer,
// encoder or reflection dump (fmt on an unexported field holding a
// RequestCredentials, go-spew, testify's diffs, encoding/gob, encoding/xml)
// can show them. String, Format, GoString, LogValue and JSON, XML and gob
// encoding show the region and which fields are set, never the other values.
type RequestCredentials struct {
	AccessKeyID     provider.Secret `json:"access_key_id,omitempty" jsonschema:"AWS access key ID"`
	SecretAccessKey provider.Secret `json:"secret_access_key,omitempty" jsonschema:"AWS secret access key"`
	SessionToken    provider.Secret `json:"session_token,omitempty" jsonschema:"Optional: AWS session token, for temporary credentials"`
	Region          string          `json:"region,omitempty" jsonschema:"Optional: AWS region, such as us-east-1"`
}

// Credentials returns the fields as provider.Credentials (empty ones
// dropped).
func (c RequestCredentials) Credentials() provider.Credentials {
	return provider.NewCredentialsFromSecrets(map[string]provider.Secret{
		provider.FieldAccessKeyID:     c.AccessKeyID,
		provider.FieldSecretAccessKey: c.SecretAccessKey,
		provider.FieldSessionToken:    c.SessionToken,
		provider.FieldRegion:          provider.NewSecret(c.Region),
	}, provider.Source{Provider: "request"})
}

// String returns the set fields with values redacted.
func (c RequestCredentials) String() string {
	return fmt.Sprintf("{access_key_id:%s secret_access_key:%s session_token:%s region:%s}",
		c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Region)
}

// GoString implements fmt.GoStringer.
func (c RequestCredentials) GoString() string { return "resolver.RequestCredentials" + c.String() }

// Format implements fmt.Formatter so that every verb redacts.
func (c RequestCredentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.String())
}

// LogValue implements slog.LogValuer.
func (c RequestCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("access_key_id", c.AccessKeyID), slog.Any("secret_access_key", c.SecretAccessKey),
		slog.Any("session_token", c.SessionToken), slog.String("region", c.Region))
}
