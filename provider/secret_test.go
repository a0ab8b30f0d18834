package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

const canary = "CANARY-SECRET-d3adb33f"

func TestSecretNeverRenders(t *testing.T) {
	s := provider.NewSecret(canary)
	type holder struct {
		Exported   provider.Secret
		unexported provider.Secret
		Ptr        *provider.Secret
	}
	h := holder{Exported: s, unexported: s, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h),
			fmt.Sprintf(verb, []provider.Secret{s}), fmt.Sprintf(verb, map[string]provider.Secret{"k": s}), fmt.Sprintf(verb, []any{s}))
	}
	outs = append(outs, fmt.Sprint(s, h), fmt.Sprintln(h), s.String(), s.GoString())
	for _, v := range []any{s, h, &h, map[string]provider.Secret{"k": s}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		outs = append(outs, string(b))
		b, err = xml.Marshal(xmlHolder{S: s})
		require.NoError(t, err)
		outs = append(outs, string(b))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "s", s, "h", h)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "s", s, "h", h)
	log.New(&buf, "", 0).Printf("%v %+v", s, h)
	outs = append(outs, buf.String(), fmt.Errorf("wrapped: %v", s).Error())
	for _, o := range outs {
		assert.NotContains(t, o, canary)
		assert.NotContains(t, o, fmt.Sprintf("%x", canary))
	}
	assert.Equal(t, canary, s.Reveal())
	assert.Equal(t, provider.Redacted, s.String())
	assert.Equal(t, `provider.Secret("[REDACTED]")`, fmt.Sprintf("%#v", s))
	assert.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%q", s))
}

type xmlHolder struct{ S provider.Secret }

func TestSecretBasics(t *testing.T) {
	var zero provider.Secret
	assert.True(t, zero.IsZero())
	assert.Equal(t, "", zero.String())
	assert.True(t, provider.NewSecret("").IsZero())
	assert.True(t, provider.NewSecret("a").Equal(provider.NewSecret("a")))
	assert.False(t, provider.NewSecret("a").Equal(provider.NewSecret("b")))
	assert.True(t, zero.Equal(provider.NewSecret("")))

	var in struct{ S provider.Secret }
	require.NoError(t, json.Unmarshal([]byte(`{"S":"`+canary+`"}`), &in))
	assert.Equal(t, canary, in.S.Reveal())
	require.NoError(t, json.Unmarshal([]byte(`{"S":null}`), &in))
	assert.True(t, in.S.IsZero())
	err := json.Unmarshal([]byte(`{"S":12345}`), &in)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "12345")
}

func TestCredentials(t *testing.T) {
	src := provider.Source{Provider: "file", Locator: "/home/u/.mcp/credentials [prod]"}
	c := provider.NewCredentials(map[string]string{
		provider.FieldAccessKeyID:     "AKIDEXAMPLE",
		provider.FieldSecretAccessKey: canary,
		"empty":                       "",
	}, src)
	c.Expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, []string{"access_key_id", "secret_access_key"}, c.Names())
	assert.True(t, c.Has(provider.FieldSecretAccessKey))
	assert.False(t, c.Has("empty"))
	assert.Equal(t, []string{"region", "empty"}, c.Missing("access_key_id", "region", "empty"))
	assert.Equal(t, "credentials{access_key_id, secret_access_key} from file (/home/u/.mcp/credentials [prod]) expires 2030-01-01T00:00:00Z", c.String())
	assert.False(t, c.Expired(c.Expires.Add(-time.Second)))
	assert.True(t, c.Expired(c.Expires))
	providertest.CheckRendering(t, c, canary)

	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"fields":{"access_key_id":"[REDACTED]","secret_access_key":"[REDACTED]"},
		"source":{"provider":"file","locator":"/home/u/.mcp/credentials [prod]"},"expires":"2030-01-01T00:00:00Z"}`, string(b))

	m := c.Merge(provider.NewCredentials(map[string]string{provider.FieldRegion: "eu-west-1"}, provider.Source{}))
	assert.Equal(t, "eu-west-1", m.Value(provider.FieldRegion))
	assert.False(t, c.Has(provider.FieldRegion), "Merge does not change its receiver")
	assert.Equal(t, src, m.Source)

	fields := map[string]string{"token": "t1"}
	c2 := provider.NewCredentials(fields, src)
	fields["token"] = "t2"
	assert.Equal(t, "t1", c2.Value("token"), "NewCredentials copies its input")
}

func TestErrors(t *testing.T) {
	err := provider.NotFound("env", "prod", "AWS_ACCESS_KEY_ID", "not set")
	assert.Equal(t, `provider env: profile "prod": AWS_ACCESS_KEY_ID: not set`, err.Error())
	assert.True(t, provider.IsNotFound(err))
	assert.False(t, provider.IsUnavailable(err))
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "env", pe.Provider)

	cause := errors.New("dial tcp 127.0.0.1:8200: connection refused")
	err = provider.Unavailable("vault", "", "secret/mcp", cause)
	assert.Equal(t, "provider vault: secret/mcp: dial tcp 127.0.0.1:8200: connection refused", err.Error())
	assert.True(t, provider.IsUnavailable(err))
	assert.ErrorIs(t, err, cause)
	assert.False(t, provider.IsNotFound(err))
}

func TestPin(t *testing.T) {
	var asked string
	p := provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
		asked = profile
		return provider.NewCredentials(map[string]string{"token": "t"}, provider.Source{}), nil
	}), "file")
	pinned := provider.Pin(p, "production")
	_, err := pinned.Retrieve(context.Background(), "anything")
	require.NoError(t, err)
	assert.Equal(t, "production", asked)
	assert.Equal(t, "file", provider.NameOf(pinned))
}

func TestNameOf(t *testing.T) {
	f := provider.Func(func(_ context.Context, _ string) (provider.Credentials, error) { return provider.Credentials{}, nil })
	assert.Equal(t, "provider.Func", provider.NameOf(f))
	assert.Equal(t, "mine", provider.NameOf(provider.WithName(f, "mine")))
	assert.True(t, strings.HasPrefix(provider.NameOf(provider.WithName(f, "")), "provider."))
}
