package provider_test

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/davecgh/go-spew/spew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

// hidden holds a value in an unexported field: fmt, slog's text handler and
// reflection walkers print it without calling any of its methods.
type hidden[T any] struct {
	v T
	n int
}

// exposed holds a value in an exported field, for the encoders.
type exposed[T any] struct {
	XMLName xml.Name `xml:"exposed" json:"-"`
	V       T
	N       int
}

// recorder is a testing.T for testify that keeps the failure message.
type recorder struct{ strings.Builder }

func (r *recorder) Errorf(format string, args ...any) { fmt.Fprintf(&r.Builder, format, args...) }

// renderings returns every way a value of type T is commonly dumped: fmt
// verbs on the value, a pointer to it and unexported fields holding it;
// go-spew with methods and with methods disabled (as testify's diffs do);
// testify's assert.Equal failure message; encoding/gob, encoding/xml,
// encoding/json; log/slog's text and JSON handlers. other must differ from v
// only in the secret, so testify has something to diff.
func renderings[T any](v, other T) map[string]string {
	out := map[string]string{}
	h, ho := hidden[T]{v: v, n: 1}, hidden[T]{v: other, n: 2}
	e := exposed[T]{V: v, N: 1}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out["fmt "+verb+" value"] = fmt.Sprintf(verb, v)
		out["fmt "+verb+" pointer"] = fmt.Sprintf(verb, &v)
		out["fmt "+verb+" unexported field"] = fmt.Sprintf(verb, h)
		out["fmt "+verb+" pointer to unexported field"] = fmt.Sprintf(verb, &h)
		out["fmt "+verb+" exported field"] = fmt.Sprintf(verb, e)
		out["fmt "+verb+" slice"] = fmt.Sprintf(verb, []T{v})
		out["fmt "+verb+" map"] = fmt.Sprintf(verb, map[string]T{"k": v})
	}
	raw := spew.ConfigState{Indent: " ", DisableMethods: true, DisablePointerMethods: true}
	for name, x := range map[string]any{"value": v, "pointer": &v, "unexported field": h, "exported field": e} {
		out["spew default "+name] = spew.Sdump(x)
		out["spew no methods "+name] = raw.Sdump(x)
		out["spew %+v "+name] = spew.Sprintf("%+v", x)
	}
	for name, pair := range map[string][2]any{"value": {v, other}, "unexported field": {h, ho},
		"exported field": {e, exposed[T]{V: other, N: 2}}, "slice": {[]T{v}, []T{other}}} {
		var r recorder
		assert.Equal(&r, pair[0], pair[1])
		out["testify Equal "+name] = r.String()
		r.Reset()
		assert.Empty(&r, pair[0])
		out["testify Empty "+name] = r.String()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(e); err != nil {
		out["gob"] = "error: " + err.Error()
	} else {
		out["gob"] = buf.String()
	}
	for name, x := range map[string]any{"value": v, "exported field": e} {
		b, err := xml.Marshal(x)
		out["xml "+name] = string(b) + fmt.Sprint(err)
		b, err = json.Marshal(x)
		out["json "+name] = string(b) + fmt.Sprint(err)
	}
	for name, x := range map[string]any{"unexported field": h, "pointer to unexported field": &h} {
		b, err := json.Marshal(x)
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

// assertNoCanary fails for every rendering that shows one of the canaries
// as text, hex or base64.
func assertNoCanary(t *testing.T, outs map[string]string, canaries ...string) {
	t.Helper()
	for name, o := range outs {
		for _, c := range canaries {
			for _, form := range []string{c, fmt.Sprintf("%x", c), fmt.Sprintf("%X", c),
				base64.StdEncoding.EncodeToString([]byte(c)), base64.RawURLEncoding.EncodeToString([]byte(c))} {
				if strings.Contains(o, form) {
					t.Errorf("%s shows the secret %q:\n%s", name, c, o)
				}
			}
		}
	}
}

// assertNoStoredForm fails for every rendering that shows a masked stored
// form although it goes through the value's methods: encoders and fmt on
// reachable values must redact, not carry the ciphertext. Only reflection
// walks (unexported fields, go-spew, testify's diffs, slog's text handler on
// an unexported field) see the masked form.
func assertNoStoredForm(t *testing.T, outs map[string]string, secrets ...provider.Secret) {
	t.Helper()
	for name, o := range outs {
		if strings.Contains(name, "unexported") || strings.Contains(name, "spew") || strings.Contains(name, "testify") || name == "slog text" {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(o, stored(t, s)) || strings.Contains(o, "masked:") {
				t.Errorf("%s shows the stored form:\n%s", name, o)
			}
		}
	}
}

const keyCanary = "AKIDCANARY0123456789"

func TestSecretUnreadableByDumpers(t *testing.T) {
	s := provider.NewSecret(canary)
	other := provider.NewSecret(canary + "-other")
	outs := renderings(s, other)
	assertNoCanary(t, outs, canary)
	assertNoStoredForm(t, outs, s)
	assert.Contains(t, outs["spew no methods value"], "masked:", "a reflection dump shows the masked form")
	assert.Contains(t, outs["fmt %v value"], provider.Redacted)
	assert.Equal(t, canary, s.Reveal())
}

func TestCredentialsUnreadableByDumpers(t *testing.T) {
	src := provider.Source{Provider: "file", Locator: "credentials [prod]"}
	c := provider.NewCredentials(map[string]string{
		provider.FieldAccessKeyID: keyCanary, provider.FieldSecretAccessKey: canary, provider.FieldSessionToken: canary + "-token",
	}, src)
	c.Expires = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	other := provider.NewCredentials(map[string]string{
		provider.FieldAccessKeyID: keyCanary, provider.FieldSecretAccessKey: canary + "-other", provider.FieldSessionToken: canary + "-token",
	}, src)
	other.Expires = c.Expires
	merged := c.Merge(provider.NewCredentials(map[string]string{provider.FieldRegion: "eu-west-1"}, provider.Source{}))
	stored := []provider.Secret{c.Get(provider.FieldAccessKeyID), c.Get(provider.FieldSecretAccessKey), c.Get(provider.FieldSessionToken)}
	for _, outs := range []map[string]string{renderings(c, other), renderings(merged, other)} {
		assertNoCanary(t, outs, keyCanary, canary)
		assertNoStoredForm(t, outs, stored...)
	}
	assert.Equal(t, canary, c.Value(provider.FieldSecretAccessKey))
	assert.Equal(t, canary, merged.Value(provider.FieldSecretAccessKey))
}

func TestSecretMaskedForm(t *testing.T) {
	values := []string{"x", canary, "ünïcødé ✓", "\x00\xff\n\t binary", strings.Repeat("long", 4096)}
	for _, v := range values {
		s := provider.NewSecret(v)
		assert.Equal(t, v, s.Reveal())
		if len(v) >= 8 { // a short value may occur in base64 by chance
			assert.NotContains(t, stored(t, s), v, "the stored form is masked")
		}
		assert.True(t, strings.HasPrefix(stored(t, s), "masked:"))
		assert.False(t, s.IsZero())
		assert.Equal(t, s, provider.NewSecret(v), "one value, one stored form: == and DeepEqual compare values")
		assert.True(t, s.Equal(provider.NewSecret(v)))
		assert.False(t, s.Equal(provider.NewSecret(v+"!")))
		assert.NotEqual(t, s, provider.NewSecret(v+"!"))
	}
	assert.True(t, provider.NewSecret("").IsZero())
	assert.Equal(t, "", provider.NewSecret("").Reveal())
}

// TestSecretConverted covers Secrets not made by NewSecret: a string
// converted to a Secret, and a stored form that was altered. Both reveal
// their own text and never another value, and never panic.
func TestSecretConverted(t *testing.T) {
	plain := convert(t, "plain value")
	assert.Equal(t, "plain value", plain.Reveal())
	assert.True(t, plain.Equal(provider.NewSecret("plain value")))
	assert.Equal(t, provider.Redacted, fmt.Sprint(plain))

	s := stored(t, provider.NewSecret(canary))
	last := "A"
	if strings.HasSuffix(s, last) {
		last = "B"
	}
	for _, altered := range []string{s[:len(s)-1], s + "A", s[:len(s)-1] + last, "masked:", "masked:!!!", "masked:AAAA"} {
		got := convert(t, altered).Reveal()
		assert.Equal(t, altered, got)
		assert.NotContains(t, got, canary)
	}
}

// TestSecretDecodersMask checks that every decoder that fills a Secret
// stores it masked.
func TestSecretDecodersMask(t *testing.T) {
	var j struct{ S provider.Secret }
	require.NoError(t, json.Unmarshal([]byte(`{"S":"`+canary+`"}`), &j))
	var x exposed[provider.Secret]
	require.NoError(t, xml.Unmarshal([]byte(`<exposed><V>`+canary+`</V></exposed>`), &x))
	var txt provider.Secret
	u, ok := any(&txt).(encoding.TextUnmarshaler)
	require.True(t, ok, "*Secret implements encoding.TextUnmarshaler")
	require.NoError(t, u.UnmarshalText([]byte(canary)))
	for name, s := range map[string]provider.Secret{"json": j.S, "xml": x.V, "text": txt} {
		assert.Equal(t, canary, s.Reveal(), name)
		assert.NotContains(t, stored(t, s), canary, name)
	}

	// gob writes what MarshalText gives, so a round trip yields the
	// redaction, never the value.
	var buf bytes.Buffer
	require.NoError(t, gob.NewEncoder(&buf).Encode(exposed[provider.Secret]{V: provider.NewSecret(canary)}))
	var g exposed[provider.Secret]
	require.NoError(t, gob.NewDecoder(&buf).Decode(&g))
	assert.Equal(t, provider.Redacted, g.V.Reveal())
}

var (
	sinkSecret      provider.Secret
	sinkCredentials provider.Credentials
	sinkBool        bool
)

// TestCopiesDoNotAllocate checks that what the resolver's hit path does with
// secrets (copy Credentials by value, look fields up, test them) never
// allocates.
func TestCopiesDoNotAllocate(t *testing.T) {
	c := provider.NewCredentials(map[string]string{provider.FieldAccessKeyID: keyCanary, provider.FieldSecretAccessKey: canary}, provider.Source{Provider: "p"})
	s := provider.NewSecret(canary)
	allocs := testing.AllocsPerRun(1000, func() {
		c2 := c
		sinkCredentials = c2
		s2 := s
		sinkSecret = s2
		sinkSecret = c2.Get(provider.FieldSecretAccessKey)
		sinkBool = c2.Has(provider.FieldAccessKeyID) && !s2.IsZero() && c2.Len() == 2
	})
	assert.Zero(t, allocs)
}

// stored returns s's stored form, string(s), through reflection so that
// these tests also compile, and fail, against a Secret that is not a string.
func stored(t *testing.T, s provider.Secret) string {
	t.Helper()
	requireStringKind(t)
	return reflect.ValueOf(s).String()
}

// convert returns provider.Secret(v).
func convert(t *testing.T, v string) provider.Secret {
	t.Helper()
	requireStringKind(t)
	return reflect.ValueOf(v).Convert(reflect.TypeFor[provider.Secret]()).Interface().(provider.Secret)
}

// requireStringKind fails unless Secret is a string type, as schema
// generators (the MCP Go SDK's among them) need to describe a Secret field
// as a string: they go by kind.
func requireStringKind(t *testing.T) {
	t.Helper()
	if k := reflect.TypeFor[provider.Secret]().Kind(); k != reflect.String {
		t.Fatalf("provider.Secret is a %s; schema generators describe it as an object, not a string", k)
	}
}

func TestSecretKind(t *testing.T) { requireStringKind(t) }
