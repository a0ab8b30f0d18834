package resolver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/davecgh/go-spew/spew"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

const (
	reqKeyCanary    = "AKIDREQCANARY0123456"
	reqSecretCanary = "REQ-SECRET-CANARY-5eed"
	reqTokenCanary  = "REQ-TOKEN-CANARY-70ke"
)

// selToolInput is a tool's input embedding the selection, as the MCP Go SDK
// decodes it.
type selToolInput struct {
	resolver.Selection
	SecurityGroupID string `json:"security_group_id" jsonschema:"the security group"`
}

const selRequestJSON = `{"security_group_id":"sg-1","credentials":{"access_key_id":"` + reqKeyCanary +
	`","secret_access_key":"` + reqSecretCanary + `","session_token":"` + reqTokenCanary + `","region":"eu-west-1"}}`

func decodeToolInput(t *testing.T, js string) selToolInput {
	t.Helper()
	var in selToolInput
	require.NoError(t, json.Unmarshal([]byte(js), &in))
	return in
}

// dumpHidden holds a value in an unexported field, which fmt, slog's text
// handler and reflection walkers print without calling its methods.
type dumpHidden[T any] struct {
	v T
	n int
}

// dumpExposed holds a value in an exported field, for the encoders.
type dumpExposed[T any] struct {
	XMLName xml.Name `xml:"exposed" json:"-"`
	V       T
	N       int
}

// dumpRecorder is a testing.T for testify that keeps the failure message.
type dumpRecorder struct{ strings.Builder }

func (r *dumpRecorder) Errorf(format string, args ...any) { fmt.Fprintf(&r.Builder, format, args...) }

// dumps renders v every way it is commonly dumped: fmt verbs on the value,
// a pointer and an unexported field; go-spew with and without methods;
// testify's assert.Equal failure diff against other; gob, xml and json;
// slog's text and JSON handlers.
func dumps[T any](v, other T) map[string]string {
	out := map[string]string{}
	h := dumpHidden[T]{v: v, n: 1}
	e := dumpExposed[T]{V: v, N: 1}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out["fmt "+verb+" value"] = fmt.Sprintf(verb, v)
		out["fmt "+verb+" pointer"] = fmt.Sprintf(verb, &v)
		out["fmt "+verb+" unexported field"] = fmt.Sprintf(verb, h)
		out["fmt "+verb+" pointer to unexported field"] = fmt.Sprintf(verb, &h)
		out["fmt "+verb+" exported field"] = fmt.Sprintf(verb, e)
	}
	raw := spew.ConfigState{Indent: " ", DisableMethods: true, DisablePointerMethods: true}
	for name, x := range map[string]any{"value": v, "pointer": &v, "unexported field": h, "exported field": e} {
		out["spew default "+name] = spew.Sdump(x)
		out["spew no methods "+name] = raw.Sdump(x)
	}
	for name, pair := range map[string][2]any{"value": {v, other}, "unexported field": {h, dumpHidden[T]{v: other, n: 2}},
		"exported field": {e, dumpExposed[T]{V: other, N: 2}}} {
		var r dumpRecorder
		assert.Equal(&r, pair[0], pair[1])
		out["testify Equal "+name] = r.String()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(e); err != nil {
		out["gob"] = "error: " + err.Error()
	} else {
		out["gob"] = buf.String()
	}
	for name, x := range map[string]any{"value": v, "exported field": e, "unexported field": h} {
		b, err := xml.Marshal(x)
		out["xml "+name] = string(b) + fmt.Sprint(err)
		b, err = json.Marshal(x)
		out["json "+name] = string(b) + fmt.Sprint(err)
	}
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "value", v, "pointer", &v, "hidden", h, "exposed", e)
	out["slog text"] = buf.String()
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "value", v, "pointer", &v, "hidden", h, "exposed", e)
	out["slog json"] = buf.String()
	return out
}

// assertNoRequestSecret fails for each rendering that shows a canary (as
// text, hex or base64), or that shows a masked stored form although it goes
// through methods (encoders, fmt on reachable values).
func assertNoRequestSecret(t *testing.T, outs map[string]string) {
	t.Helper()
	for name, o := range outs {
		for _, c := range []string{reqKeyCanary, reqSecretCanary, reqTokenCanary} {
			for _, form := range []string{c, fmt.Sprintf("%x", c), fmt.Sprintf("%X", c),
				base64.StdEncoding.EncodeToString([]byte(c)), base64.RawURLEncoding.EncodeToString([]byte(c))} {
				if strings.Contains(o, form) {
					t.Errorf("%s shows %q:\n%s", name, c, o)
				}
			}
		}
		reflective := strings.Contains(name, "unexported") || strings.Contains(name, "spew") ||
			strings.Contains(name, "testify") || name == "slog text"
		if !reflective && strings.Contains(o, "masked:") {
			t.Errorf("%s shows a stored form:\n%s", name, o)
		}
	}
}

// TestRequestCredentialsUnreadableByDumpers decodes request credentials
// as a tool call does and dumps them, the selection and the tool input
// every way a program or a test might.
func TestRequestCredentialsUnreadableByDumpers(t *testing.T) {
	in := decodeToolInput(t, selRequestJSON)
	other := decodeToolInput(t, strings.Replace(selRequestJSON, reqSecretCanary, "another-secret", 1))
	require.NotNil(t, in.Credentials)
	t.Run("RequestCredentials", func(t *testing.T) { assertNoRequestSecret(t, dumps(*in.Credentials, *other.Credentials)) })
	t.Run("*RequestCredentials", func(t *testing.T) { assertNoRequestSecret(t, dumps(in.Credentials, other.Credentials)) })
	t.Run("Selection", func(t *testing.T) { assertNoRequestSecret(t, dumps(in.Selection, other.Selection)) })
	t.Run("tool input", func(t *testing.T) { assertNoRequestSecret(t, dumps(in, other)) })
	t.Run("Request", func(t *testing.T) { assertNoRequestSecret(t, dumps(in.Request(), other.Request())) })

	out := dumps(*in.Credentials, *other.Credentials)
	assert.Contains(t, out["fmt %v value"], "region:eu-west-1", "the region is not a secret")
	assert.Contains(t, out["fmt %v value"], "secret_access_key:"+provider.Redacted)
	assert.Contains(t, out["gob"], provider.Redacted)
	assert.Contains(t, out["xml exported field"], "<SecretAccessKey>"+provider.Redacted+"</SecretAccessKey>")
}

// TestRequestCredentialsWireFormat checks that the JSON a tool call carries
// is unchanged: strings in, Credentials() out, redacted JSON back.
func TestRequestCredentialsWireFormat(t *testing.T) {
	in := decodeToolInput(t, selRequestJSON)
	c := in.Credentials.Credentials()
	assert.Equal(t, "request", c.Source.Provider)
	assert.Equal(t, reqKeyCanary, c.Value(provider.FieldAccessKeyID))
	assert.Equal(t, reqSecretCanary, c.Value(provider.FieldSecretAccessKey))
	assert.Equal(t, reqTokenCanary, c.Value(provider.FieldSessionToken))
	assert.Equal(t, "eu-west-1", c.Value(provider.FieldRegion))

	b, err := json.Marshal(in.Credentials)
	require.NoError(t, err)
	assert.JSONEq(t, `{"access_key_id":"[REDACTED]","secret_access_key":"[REDACTED]","session_token":"[REDACTED]","region":"eu-west-1"}`, string(b))

	partial := decodeToolInput(t, `{"security_group_id":"sg-1","credentials":{"region":"us-east-1","session_token":null}}`)
	assert.Equal(t, []string{provider.FieldRegion}, partial.Credentials.Credentials().Names(), "empty and null fields are dropped")
	b, err = json.Marshal(partial.Credentials)
	require.NoError(t, err)
	assert.JSONEq(t, `{"region":"us-east-1"}`, string(b))

	var bad selToolInput
	err = json.Unmarshal([]byte(`{"credentials":{"secret_access_key":123456789}}`), &bad)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "123456789")
}

// TestRequestCredentialsSchema checks the schema the MCP Go SDK infers for a
// tool input embedding Selection (jsonschema.ForType with no options): the
// secret fields are strings, and a call passing them as strings validates.
func TestRequestCredentialsSchema(t *testing.T) {
	schema, err := jsonschema.For[selToolInput](&jsonschema.ForOptions{})
	require.NoError(t, err)
	creds := schema.Properties["credentials"]
	require.NotNil(t, creds)
	for _, f := range []string{"access_key_id", "secret_access_key", "session_token", "region"} {
		require.NotNil(t, creds.Properties[f], f)
		assert.Equal(t, "string", creds.Properties[f].Type, f)
	}
	resolved, err := schema.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	require.NoError(t, err)
	var instance map[string]any
	require.NoError(t, json.Unmarshal([]byte(selRequestJSON), &instance))
	assert.NoError(t, resolved.Validate(instance))
}

// TestHitDoesNotAllocate checks that a cache hit, which returns a Result
// holding Credentials (and so masked Secrets) by value, does not allocate.
func TestHitDoesNotAllocate(t *testing.T) {
	r := mustNew(t, []provider.Provider{provider.Func(func(context.Context, string) (provider.Credentials, error) {
		return provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: reqKeyCanary, provider.FieldSecretAccessKey: reqSecretCanary}, provider.Source{}), nil
	})})
	ctx := context.Background()
	_, err := r.Resolve(ctx, resolver.Request{})
	require.NoError(t, err)
	var res resolver.Result
	allocs := testing.AllocsPerRun(1000, func() { res, err = r.Resolve(ctx, resolver.Request{}) })
	require.NoError(t, err)
	assert.Zero(t, allocs)
	assert.Equal(t, reqSecretCanary, res.Credentials.Value(provider.FieldSecretAccessKey))
}
