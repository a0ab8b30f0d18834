package static_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
	"github.com/mcpcred/mcpcred/provider/static"
)

const canary = "CANARY-SECRET-d3adb33f"

func fields() map[string]string {
	return map[string]string{
		provider.FieldAccessKeyID:     "AKIDEXAMPLE",
		provider.FieldSecretAccessKey: canary,
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, static.New(fields()), providertest.Options{
		MissingProfile: "prod",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey},
		Secrets:        []string{canary},
	})
}

func TestConformanceProfiles(t *testing.T) {
	p := static.NewProfiles(map[string]map[string]string{"prod": fields()})
	providertest.Run(t, p, providertest.Options{
		Profile:        "prod",
		MissingProfile: provider.DefaultProfile,
		WantFields:     []string{provider.FieldSecretAccessKey},
		Secrets:        []string{canary},
	})
}

func TestConformanceAllProfiles(t *testing.T) {
	p := static.New(fields(), func(o *static.Options) { o.AllProfiles = true })
	providertest.Run(t, p, providertest.Options{Profile: "anything", Secrets: []string{canary}})
}

func TestRetrieve(t *testing.T) {
	one := map[string]string{"token": "tok-1"}
	tests := []struct {
		name    string
		p       *static.Provider
		profile string
		want    string // value of "token"; "" means want ErrNotFound
	}{
		{"default answered", static.New(one), provider.DefaultProfile, "tok-1"},
		{"other profile not answered", static.New(one), "prod", ""},
		{"named profiles", static.New(one, func(o *static.Options) { o.Profiles = []string{"a", "b"} }), "b", "tok-1"},
		{"named profiles exclude default", static.New(one, func(o *static.Options) { o.Profiles = []string{"a"} }), provider.DefaultProfile, ""},
		{"all profiles", static.New(one, func(o *static.Options) { o.AllProfiles = true }), "whatever", "tok-1"},
		{"empty values dropped", static.New(map[string]string{"token": ""}), provider.DefaultProfile, ""},
		{"nil fields", static.New(nil), provider.DefaultProfile, ""},
		{"profiles map", static.NewProfiles(map[string]map[string]string{"x": {"token": "tx"}, "y": {"token": "ty"}}), "y", "ty"},
		{"profiles map miss", static.NewProfiles(map[string]map[string]string{"x": {"token": "tx"}}), provider.DefaultProfile, ""},
		{"empty profiles map", static.NewProfiles(nil), provider.DefaultProfile, ""},
		{"nil option func", static.New(one, nil), provider.DefaultProfile, "tok-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.p.Retrieve(context.Background(), tt.profile)
			if tt.want == "" {
				if !errors.Is(err, provider.ErrNotFound) {
					t.Fatalf("Retrieve(%q) = %v, %v; want ErrNotFound", tt.profile, c, err)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Provider != "static" {
					t.Fatalf("error %v is not a *provider.Error naming static", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Value("token"); got != tt.want {
				t.Fatalf("token = %q, want %q", got, tt.want)
			}
			if c.Source.Provider != "static" {
				t.Fatalf("Source = %v", c.Source)
			}
		})
	}
}

func TestNotFoundNamesProfiles(t *testing.T) {
	p := static.NewProfiles(map[string]map[string]string{"a": {"token": "x1234"}, "b": {"token": "y1234"}})
	_, err := p.Retrieve(context.Background(), "c")
	if err == nil || !strings.Contains(err.Error(), `have "a", "b"`) {
		t.Fatalf("error %v does not list configured profiles", err)
	}
}

func TestImmutable(t *testing.T) {
	in := map[string]string{"token": "before"}
	profiles := []string{"a"}
	p := static.New(in, func(o *static.Options) { o.Profiles = profiles })
	in["token"] = "after"
	in["extra"] = "added"
	profiles[0] = "b"
	c, err := p.Retrieve(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if c.Value("token") != "before" || c.Has("extra") {
		t.Fatalf("provider changed with its input: %v token=%q", c, c.Value("token"))
	}

	nested := map[string]map[string]string{"a": {"token": "before"}}
	pp := static.NewProfiles(nested)
	nested["a"]["token"] = "after"
	nested["b"] = map[string]string{"token": "new"}
	c, err = pp.Retrieve(context.Background(), "a")
	if err != nil || c.Value("token") != "before" {
		t.Fatalf("NewProfiles changed with its input: %v %v", c, err)
	}
	if _, err := pp.Retrieve(context.Background(), "b"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("profile added to input after NewProfiles is answered: %v", err)
	}
}

func TestExpiresAndNow(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := now.Add(time.Minute)
	p := static.New(fields(), func(o *static.Options) {
		o.Expires = exp
		o.Now = func() time.Time { return now }
		o.Locator = "test fixture"
	})
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expires.Equal(exp) || !c.FetchedAt.Equal(now) {
		t.Fatalf("Expires %v FetchedAt %v", c.Expires, c.FetchedAt)
	}
	if c.Expired(now) || !c.Expired(exp) {
		t.Fatal("Expired disagrees with Expires")
	}
	if c.Source.String() != "static (test fixture)" {
		t.Fatalf("Source = %q", c.Source)
	}
}

func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := static.New(fields()).Retrieve(ctx, provider.DefaultProfile)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCanary(t *testing.T) {
	p := static.NewProfiles(map[string]map[string]string{"prod": {"secret_access_key": canary}})
	c, err := p.Retrieve(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckRendering(t, c, canary)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("got", "creds", c, "provider", p)
	_, err = p.Retrieve(context.Background(), "other")
	for _, s := range []string{buf.String(), fmt.Sprintf("%v %+v %#v", err, p, p)} {
		if strings.Contains(s, canary) {
			t.Fatalf("canary leaked: %s", s)
		}
	}
}
