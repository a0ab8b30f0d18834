package env_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

const canary = "CANARY-SECRET-d3adb33f"

func abs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(m map[string]string, optFns ...func(*env.Options)) *env.Provider {
	getenv, environ := fakeEnv(m)
	return env.New(append([]func(*env.Options){func(o *env.Options) { o.Getenv, o.Environ = getenv, environ }}, optFns...)...)
}

func TestConformance(t *testing.T) {
	p := newEnv(map[string]string{
		"AWS_ACCESS_KEY_ID":          "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY_FILE": abs(t, "secret_access_key"),
		"AWS_REGION":                 "us-east-1",
	})
	providertest.Run(t, p, providertest.Options{
		MissingProfile: "prod",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey, provider.FieldRegion},
		Secrets:        []string{canary},
	})
}

func TestConformancePrefix(t *testing.T) {
	p := newEnv(map[string]string{"MCP_CI_TOKEN": canary}, func(o *env.Options) {
		o.Prefix = "MCP_CI_"
		o.Profiles = []string{"ci"}
	})
	providertest.Run(t, p, providertest.Options{
		Profile: "ci", MissingProfile: provider.DefaultProfile,
		WantFields: []string{"token"}, Secrets: []string{canary},
	})
}

func TestRetrieve(t *testing.T) {
	type want struct {
		fields  map[string]string
		locator string
		err     error    // errors.Is target; nil means success
		errHas  []string // substrings of the error text
	}
	tests := []struct {
		name    string
		env     map[string]string
		opts    func(*env.Options)
		profile string
		want    want
	}{
		{
			name: "default AWS pair",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek", "AWS_SESSION_TOKEN": "tok"},
			want: want{fields: map[string]string{"access_key_id": "AKID", "secret_access_key": "sek", "session_token": "tok"},
				locator: "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"},
		},
		{
			name: "AWS_REGION wins over AWS_DEFAULT_REGION",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek", "AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"},
			want: want{fields: map[string]string{"access_key_id": "AKID", "secret_access_key": "sek", "region": "r1"},
				locator: "AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY"},
		},
		{
			name: "empty AWS_REGION falls through to AWS_DEFAULT_REGION",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek", "AWS_REGION": "", "AWS_DEFAULT_REGION": "r2"},
			want: want{fields: map[string]string{"access_key_id": "AKID", "secret_access_key": "sek", "region": "r2"},
				locator: "AWS_ACCESS_KEY_ID, AWS_DEFAULT_REGION, AWS_SECRET_ACCESS_KEY"},
		},
		{
			name: "nothing set",
			env:  map[string]string{"HOME": "/root"},
			want: want{err: provider.ErrNotFound, errHas: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "_FILE"}},
		},
		{
			name: "empty values count as unset",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SECRET_ACCESS_KEY_FILE": ""},
			want: want{err: provider.ErrNotFound},
		},
		{
			name: "region alone is not credentials",
			env:  map[string]string{"AWS_REGION": "us-east-1"},
			want: want{err: provider.ErrNotFound, errHas: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		},
		{
			name: "half a key pair",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID"},
			want: want{err: env.ErrIncomplete, errHas: []string{"secret_access_key", "AWS_SECRET_ACCESS_KEY"}},
		},
		{
			name:    "other profile not answered by default",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek"},
			profile: "prod",
			want:    want{err: provider.ErrNotFound, errHas: []string{`"default"`, "AllProfiles"}},
		},
		{
			name:    "Profiles option",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek"},
			opts:    func(o *env.Options) { o.Profiles = []string{"prod"} },
			profile: "prod",
			want:    want{fields: map[string]string{"access_key_id": "AKID", "secret_access_key": "sek"}, locator: "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"},
		},
		{
			name:    "Profiles option excludes default",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek"},
			opts:    func(o *env.Options) { o.Profiles = []string{"prod"} },
			profile: provider.DefaultProfile,
			want:    want{err: provider.ErrNotFound},
		},
		{
			name:    "AllProfiles",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sek"},
			opts:    func(o *env.Options) { o.AllProfiles = true },
			profile: "anything",
			want:    want{fields: map[string]string{"access_key_id": "AKID", "secret_access_key": "sek"}, locator: "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"},
		},
		{
			name: "custom vars, first set wins",
			env:  map[string]string{"GITHUB_TOKEN": "", "GH_TOKEN": "g2", "OTHER": "x"},
			opts: func(o *env.Options) { o.Vars = map[string][]string{"token": {"GITHUB_TOKEN", "GH_TOKEN", "OTHER"}} },
			want: want{fields: map[string]string{"token": "g2"}, locator: "GH_TOKEN"},
		},
		{
			name: "custom vars nothing set",
			env:  map[string]string{},
			opts: func(o *env.Options) { o.Vars = map[string][]string{"token": {"GITHUB_TOKEN", "GH_TOKEN"}} },
			want: want{err: provider.ErrNotFound, errHas: []string{"GH_TOKEN, GITHUB_TOKEN"}},
		},
		{
			name: "custom required",
			env:  map[string]string{"U": "me"},
			opts: func(o *env.Options) {
				o.Vars = map[string][]string{"username": {"U"}, "password": {"P"}}
				o.Required = []string{"username", "password"}
			},
			want: want{err: env.ErrIncomplete, errHas: []string{"password not", "looked at P"}},
		},
		{
			name: "file indirection, trailing newline trimmed",
			env:  map[string]string{"AWS_ACCESS_KEY_ID_FILE": "testdata/access_key_id_crlf", "AWS_SECRET_ACCESS_KEY_FILE": "testdata/secret_access_key"},
			want: want{fields: map[string]string{"access_key_id": "AKIDEXAMPLE", "secret_access_key": canary},
				locator: "AWS_ACCESS_KEY_ID_FILE, AWS_SECRET_ACCESS_KEY_FILE"},
		},
		{
			name: "only one trailing newline trimmed",
			env:  map[string]string{"T_FILE": "testdata/multiline"},
			opts: func(o *env.Options) { o.Vars = map[string][]string{"token": {"T"}} },
			want: want{fields: map[string]string{"token": "line1\nline2\n"}, locator: "T_FILE"},
		},
		{
			name: "empty file counts as unset",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "testdata/empty"},
			want: want{err: env.ErrIncomplete},
		},
		{
			name: "both NAME and NAME_FILE",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": canary, "AWS_SECRET_ACCESS_KEY_FILE": "testdata/secret_access_key"},
			want: want{err: env.ErrConflict, errHas: []string{"AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE"}},
		},
		{
			name: "missing file",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "testdata/no-such-file"},
			want: want{err: fs.ErrNotExist, errHas: []string{"AWS_SECRET_ACCESS_KEY_FILE", "testdata/no-such-file"}},
		},
		{
			name: "directory instead of file",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "testdata"},
			want: want{err: env.ErrNotRegular, errHas: []string{"AWS_SECRET_ACCESS_KEY_FILE", "testdata"}},
		},
		{
			name: "oversize file",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "testdata/secret_access_key"},
			opts: func(o *env.Options) { o.MaxFileSize = 8 },
			want: want{err: env.ErrFileTooLarge, errHas: []string{"AWS_SECRET_ACCESS_KEY_FILE", "limit 8"}},
		},
		{
			name: "DisableFiles ignores NAME_FILE",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "testdata/secret_access_key"},
			opts: func(o *env.Options) { o.DisableFiles = true },
			want: want{err: env.ErrIncomplete},
		},
		{
			name: "prefix maps names to lower-case fields",
			env:  map[string]string{"MCP_CI_API_TOKEN": "t1", "MCP_CI_Region": "r", "MCP_CIX": "no", "OTHER_TOKEN": "no"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{fields: map[string]string{"api_token": "t1", "region": "r"}, locator: "MCP_CI_API_TOKEN, MCP_CI_Region"},
		},
		{
			name: "prefix: a name that gives no field name is an error, not skipped",
			env:  map[string]string{"MCP_CI_API_TOKEN": "t1", "MCP_CI_BAD-NAME": "no"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{err: env.ErrBadName, errHas: []string{`a variable named MCP_CI_<"BAD-NAME"> gives no field name`, "rename or unset it"}},
		},
		{
			name: "prefix: a token in a variable's name is neither a field nor shown",
			env:  map[string]string{"MCP_CI_API_TOKEN": "t1", "MCP_CI_Q8XK2M4V9R1T7W3Z5P0N6B2C": "no"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{err: env.ErrBadName, errHas: []string{"MCP_CI_<(a 24-byte value, not shown)>"}},
		},
		{
			name: "prefix with _FILE",
			env:  map[string]string{"MCP_CI_TOKEN_FILE": "testdata/secret_access_key"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{fields: map[string]string{"token": canary}, locator: "MCP_CI_TOKEN_FILE"},
		},
		{
			name: "prefix with _FILE and DisableFiles",
			env:  map[string]string{"MCP_CI_TOKEN_FILE": "/x"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_"; o.DisableFiles = true },
			want: want{fields: map[string]string{"token_file": "/x"}, locator: "MCP_CI_TOKEN_FILE"},
		},
		{
			name: "prefix conflict",
			env:  map[string]string{"MCP_CI_TOKEN": "a", "MCP_CI_TOKEN_FILE": "testdata/secret_access_key"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{err: env.ErrConflict, errHas: []string{"MCP_CI_TOKEN and MCP_CI_TOKEN_FILE"}},
		},
		{
			name: "prefix nothing set",
			env:  map[string]string{"HOME": "/"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_" },
			want: want{err: provider.ErrNotFound, errHas: []string{"MCP_CI_*"}},
		},
		{
			name: "prefix with explicit vars, vars win",
			env:  map[string]string{"MCP_CI_TOKEN": "from-prefix", "CI_TOKEN": "from-var", "MCP_CI_USER": "u"},
			opts: func(o *env.Options) { o.Prefix = "MCP_CI_"; o.Vars = map[string][]string{"token": {"CI_TOKEN"}} },
			want: want{fields: map[string]string{"token": "from-var", "user": "u"}, locator: "CI_TOKEN, MCP_CI_USER"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*env.Options)
			if tt.opts != nil {
				opts = append(opts, tt.opts)
			}
			profile := tt.profile
			if profile == "" {
				profile = provider.DefaultProfile
			}
			c, err := newEnv(tt.env, opts...).Retrieve(context.Background(), profile)
			if tt.want.err != nil {
				if !errors.Is(err, tt.want.err) {
					t.Fatalf("err = %v, want one wrapping %v", err, tt.want.err)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Provider != "env" {
					t.Errorf("error %v is not a *provider.Error naming env", err)
				}
				if tt.want.err != provider.ErrNotFound && errors.Is(err, provider.ErrNotFound) {
					t.Errorf("error %v wraps ErrNotFound; a resolver would skip a real failure", err)
				}
				for _, s := range tt.want.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				checkNoSecret(t, err.Error(), tt.env)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != len(tt.want.fields) {
				t.Errorf("fields %v, want %d", c.Names(), len(tt.want.fields))
			}
			for k, v := range tt.want.fields {
				if c.Value(k) != v {
					t.Errorf("field %s = %q, want %q", k, c.Value(k), v)
				}
			}
			if c.Source.Provider != "env" || c.Source.Locator != tt.want.locator {
				t.Errorf("Source = %+v, want locator %q", c.Source, tt.want.locator)
			}
			if c.FetchedAt.IsZero() {
				t.Error("FetchedAt not set")
			}
			providertest.CheckRendering(t, c, canary)
		})
	}
}

// checkNoSecret fails if s holds the canary or any environment value that is
// not a file path (paths are meant to be named).
func checkNoSecret(t *testing.T, s string, env map[string]string) {
	t.Helper()
	if strings.Contains(s, canary) {
		t.Fatalf("canary in %q", s)
	}
	for k, v := range env {
		if len(v) >= 4 && !strings.HasSuffix(k, "_FILE") && strings.Contains(s, v) {
			t.Errorf("value of %s in %q", k, s)
		}
	}
}

func TestOversizeDefaultLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, bytes.Repeat([]byte("A"), env.DefaultMaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newEnv(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": path}).
		Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, env.ErrFileTooLarge) || strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("err = %v", err)
	}
	// Exactly the limit is fine.
	if err := os.WriteFile(path, bytes.Repeat([]byte("A"), env.DefaultMaxFileSize), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := newEnv(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": path}).
		Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil || len(c.Value("secret_access_key")) != env.DefaultMaxFileSize {
		t.Fatalf("at the limit: %v %v", c, err)
	}
}

// A file that grows past the limit after Stat is still cut off: the read is
// bounded too. A FIFO or /proc file reports size 0 but is not regular, so
// we simulate with an fs.File whose Stat lies.
func TestReadBoundedEvenIfStatLies(t *testing.T) {
	p := newEnv(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "big"}, func(o *env.Options) {
		o.MaxFileSize = 16
		o.OpenFile = func(name string) (fs.File, error) {
			return lyingFile{strings.NewReader(strings.Repeat("x", 100))}, nil
		}
	})
	_, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, env.ErrFileTooLarge) {
		t.Fatalf("err = %v, want ErrFileTooLarge", err)
	}
}

type lyingFile struct{ *strings.Reader }

func (lyingFile) Stat() (fs.FileInfo, error) { return lyingInfo{}, nil }
func (lyingFile) Close() error               { return nil }

type lyingInfo struct{ fs.FileInfo }

func (lyingInfo) Mode() fs.FileMode { return 0 }
func (lyingInfo) Size() int64       { return 1 }

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads mode-000 files anyway; the "directory in place of the
		// file" case in TestRetrieve covers the unreadable path as root.
		t.Skip("running as root: permission bits do not stop reads")
	}
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(canary), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := newEnv(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": path}).
		Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), path) || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenFileError(t *testing.T) {
	boom := errors.New("injected I/O error")
	p := newEnv(map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY_FILE": "/x/y"}, func(o *env.Options) {
		o.OpenFile = func(string) (fs.File, error) { return nil, &fs.PathError{Op: "open", Path: "/x/y", Err: boom} }
	})
	_, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if !errors.Is(err, boom) || strings.Count(err.Error(), "/x/y") != 1 {
		t.Fatalf("err = %v; want it to wrap the cause and name the path once", err)
	}
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPROCESS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", canary)
	t.Setenv("AWS_SECRET_ACCESS_KEY_FILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID_FILE", "")
	t.Setenv("MCPCRED_TEST_X_TOKEN", "tok1")
	c, err := env.New().Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil || c.Value("access_key_id") != "AKIDPROCESS" || c.Value("secret_access_key") != canary {
		t.Fatalf("%v %v", c, err)
	}
	c, err = env.New(func(o *env.Options) { o.Prefix = "MCPCRED_TEST_X_" }).Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil || c.Value("token") != "tok1" {
		t.Fatalf("prefix from process environment: %v %v", c, err)
	}
}

func TestContextDoneBeforeFileRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opened := false
	p := newEnv(map[string]string{"AWS_SECRET_ACCESS_KEY_FILE": "x"}, func(o *env.Options) {
		o.OpenFile = func(string) (fs.File, error) { opened = true; return nil, fs.ErrNotExist }
	})
	_, err := p.Retrieve(ctx, provider.DefaultProfile)
	if !errors.Is(err, context.Canceled) || opened {
		t.Fatalf("err = %v, opened = %v", err, opened)
	}
}

func TestCanaryInLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	envm := map[string]string{
		"MCP_CI_TOKEN_FILE": "testdata/secret_access_key",
		"MCP_CI_EMPTY_FILE": "testdata/empty",
		"MCP_CI_PASSWORD":   canary + "-2",
	}
	p := newEnv(envm, func(o *env.Options) { o.Prefix = "MCP_CI_"; o.Logger = log })
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("resolved", "creds", c)
	out := buf.String() + fmt.Sprintf("%v %+v %#v", c, c, p)
	if strings.Contains(out, canary) {
		t.Fatalf("canary in logs: %s", out)
	}
	for _, want := range []string{"MCP_CI_EMPTY_FILE", "token"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
