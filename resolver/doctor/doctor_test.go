package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/resolver/doctor"
)

const canary = "CANARY-d0c70r-5ecret"

var awsFields = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}

// setup is one configuration on real files in a temporary home.
type setup struct {
	home, creds, profiles string
	vars                  map[string]string
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	home := t.TempDir()
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	mcp := filepath.Join(home, ".mcp")
	if err := os.Mkdir(mcp, 0o700); err != nil {
		t.Fatal(err)
	}
	return &setup{home: home, creds: filepath.Join(mcp, "credentials"), profiles: filepath.Join(mcp, "profiles.json"),
		vars: map[string]string{"HOME": home}}
}

func (s *setup) getenv(k string) string { return s.vars[k] }

func (s *setup) write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// config is the example server's chain: the profiles file, the
// environment, the credentials file.
func (s *setup) config(t *testing.T) doctor.Config {
	t.Helper()
	var schemes provider.Schemes
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv = s.getenv; o.Environ = func() []string { return nil } }))
	schemes.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = s.getenv; o.Required = awsFields }))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv = s.getenv })
	if err != nil {
		t.Fatal(err)
	}
	pol, err := provider.NewRefPolicy("env:MCP_CI_*", "file:"+s.creds+"/*")
	if err != nil {
		t.Fatal(err)
	}
	return doctor.Config{
		Chain: []provider.Provider{
			profiles,
			env.New(func(o *env.Options) { o.Getenv = s.getenv }),
			file.New(func(o *file.Options) { o.Getenv = s.getenv; o.Required = awsFields }),
		},
		Profiles:        profiles,
		Schemes:         &schemes,
		AllowReferences: pol,
		Required:        awsFields,
		Getenv:          s.getenv,
		Fingerprint:     doctor.NewFingerprinter([]byte("test key")),
	}
}

const credsINI = `[default]
aws_access_key_id = AKIAFILEDEFAULT
aws_secret_access_key = ` + canary + `-file

[production]
aws_access_key_id = AKIAFILEPROD
aws_secret_access_key = ` + canary + `-prod
`

const profilesJSON = `{
  "profiles": {
    "prod": {"source": "file:production", "region": "us-west-2"},
    "ops":  {"source": "file:production", "allow": {"subjects": ["alice"], "issuers": ["https://idp.example.com"]}}
  }
}
`

// healthy is a working configuration: the environment answers the default
// profile, the credentials file holds it too and production.
func healthy(t *testing.T) *setup {
	s := newSetup(t)
	s.vars["AWS_ACCESS_KEY_ID"] = "AKIAENVDEFAULT"
	s.vars["AWS_SECRET_ACCESS_KEY"] = canary + "-env"
	s.write(t, s.creds, credsINI, 0o600)
	s.write(t, s.profiles, profilesJSON, 0o600)
	return s
}

// noCanary fails the test if anything the doctor returned holds a value.
func noCanary(t *testing.T, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b) + fmt.Sprint(v) + fmt.Sprintf("%+v %#v", v, v)
	if strings.Contains(text, canary) || strings.Contains(text, "AKIAENV") || strings.Contains(text, "AKIAFILE") {
		t.Fatalf("%s holds a value:\n%s", what, text)
	}
}

func findingsOf(fs []doctor.Finding, sev doctor.Severity) []doctor.Finding {
	var out []doctor.Finding
	for _, f := range fs {
		if f.Severity == sev {
			out = append(out, f)
		}
	}
	return out
}

func profileReport(t *testing.T, rep *doctor.Report, name string) doctor.ProfileReport {
	t.Helper()
	for _, p := range rep.Profiles {
		if p.Profile == provider.Describe(name) {
			return p
		}
	}
	t.Fatalf("no report for profile %s in %+v", name, rep.Profiles)
	return doctor.ProfileReport{}
}

func TestHealthy(t *testing.T) {
	s := healthy(t)
	rep := doctor.Inspect(context.Background(), s.config(t))
	noCanary(t, "report", rep)
	if rep.Failed() {
		t.Fatalf("healthy setup failed: %v", rep.Findings)
	}
	if got := findingsOf(rep.Findings, doctor.SeverityWarning); len(got) != 0 {
		t.Errorf("warnings on a healthy setup: %v", got)
	}
	if want := []string{"profile", "env", "file"}; !slices.Equal(rep.Chain, want) {
		t.Errorf("chain %v, want %v", rep.Chain, want)
	}
	if len(rep.Files) != 2 || !rep.Files[0].Exists || rep.Files[0].Mode != "0600" {
		t.Errorf("files: %+v", rep.Files)
	}
	// The default profile: the profiles file has nothing, env answers,
	// the file is shadowed with other values.
	def := profileReport(t, rep, "default")
	if !def.Default || def.Answer == nil || !strings.Contains(def.Answer.Source, "env") {
		t.Fatalf("default: %+v", def)
	}
	outcomes := []doctor.Outcome{def.Steps[0].Outcome, def.Steps[1].Outcome, def.Steps[2].Outcome}
	if !slices.Equal(outcomes, []doctor.Outcome{doctor.Skipped, doctor.Answered, doctor.NotAsked}) {
		t.Errorf("default steps: %+v", def.Steps)
	}
	if !strings.Contains(def.Steps[2].Probe, "other values") || def.Steps[2].Fingerprints == nil {
		t.Errorf("shadowed file not reported: %+v", def.Steps[2])
	}
	if def.Answer.Fingerprints[provider.FieldSecretAccessKey] == def.Steps[2].Fingerprints[provider.FieldSecretAccessKey] {
		t.Errorf("different values have one fingerprint")
	}
	if def.Answer.Fingerprints[provider.FieldAccessKeyID] == "" || !strings.HasPrefix(def.Answer.Fingerprints[provider.FieldAccessKeyID], "hmac:") {
		t.Errorf("fingerprints: %v", def.Answer.Fingerprints)
	}
	prod := profileReport(t, rep, "prod")
	if prod.Answer == nil || prod.Steps[0].Outcome != doctor.Answered || !prod.Policy.Stdio || prod.Policy.Callers {
		t.Errorf("prod: %+v", prod)
	}
	if !slices.Contains(prod.Answer.Fields, provider.FieldRegion) {
		t.Errorf("prod lacks the profile's region: %v", prod.Answer.Fields)
	}
	// ops is offered to alice only: walked as her, and it resolves.
	ops := profileReport(t, rep, "ops")
	if ops.Answer == nil || !strings.Contains(ops.WalkedAs, `"alice"`) || ops.Policy.Stdio || !ops.Policy.Callers ||
		!strings.Contains(ops.Policy.Summary, `subjects "alice"`) {
		t.Errorf("ops: %+v", ops)
	}
	// One run, one key: equal values, equal fingerprints.
	if prod.Answer.Fingerprints[provider.FieldSecretAccessKey] != ops.Answer.Fingerprints[provider.FieldSecretAccessKey] {
		t.Errorf("equal values, different fingerprints")
	}
}

// TestBroken drives each kind of broken setup and checks the finding, its
// severity and its fix.
func TestBroken(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(t *testing.T, s *setup)
		source  string // the finding's source holds this
		problem string
		fix     string
		sev     doctor.Severity
	}{
		{"world-readable credentials file", func(t *testing.T, s *setup) { s.write(t, s.creds, credsINI, 0o644) },
			"credentials", "mode 0644", "chmod 600 ", doctor.SeverityError},
		{"group-writable directory", func(t *testing.T, s *setup) { os.Chmod(filepath.Dir(s.creds), 0o770) },
			"credentials", "0770", "chmod 700 ", doctor.SeverityError},
		{"insecure mode does not hide it", func(t *testing.T, s *setup) {
			s.write(t, s.creds, credsINI, 0o640)
			s.vars["MCP_INSECURE_MODE"] = "1"
		}, "credentials", "mode 0640", "chmod 600 ", doctor.SeverityError},
		{"writable profiles file", func(t *testing.T, s *setup) { s.write(t, s.profiles, profilesJSON, 0o666) },
			"profiles.json", "mode 0666", "chmod go-w ", doctor.SeverityError},
		{"malformed profiles file", func(t *testing.T, s *setup) {
			s.write(t, s.profiles, "{\n  \"profiles\": {\n    \"prod\": {\"sorce\": \"file:production\"}\n  }\n}\n", 0o600)
		}, "profiles file", "unknown key", "correct line ", doctor.SeverityError},
		{"malformed credentials file", func(t *testing.T, s *setup) {
			s.write(t, s.creds, "[default\naws_access_key_id = AKIAFILEDEFAULT\n", 0o600)
		}, "file", "malformed", "correct line 1 of ", doctor.SeverityError},
		{"missing section", func(t *testing.T, s *setup) {
			s.write(t, s.creds, "[default]\naws_access_key_id = AKIAFILEDEFAULT\naws_secret_access_key = "+canary+"\n", 0o600)
		}, "profile", "no credentials", `where the profile's "source" points`, doctor.SeverityError},
		{"nothing configured", func(t *testing.T, s *setup) {
			delete(s.vars, "AWS_ACCESS_KEY_ID")
			delete(s.vars, "AWS_SECRET_ACCESS_KEY")
			s.write(t, s.creds, "[other]\naws_access_key_id = AKIAFILEDEFAULT\naws_secret_access_key = "+canary+"\n", 0o600)
		}, "chain", "has usable credentials", "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or add a [default] section", doctor.SeverityError},
		{"half a key pair", func(t *testing.T, s *setup) {
			delete(s.vars, "AWS_SECRET_ACCESS_KEY")
			s.write(t, s.creds, "[other]\nx = y\n", 0o600)
		}, "env", "AWS_SECRET_ACCESS_KEY", "", doctor.SeverityError},
		{"old keys", func(t *testing.T, s *setup) {
			old := time.Now().Add(-200 * 24 * time.Hour)
			os.Chtimes(s.creds, old, old)
		}, "credentials", "last changed 200d ago", "rotate them", doctor.SeverityWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthy(t)
			tt.break_(t, s)
			rep := doctor.Inspect(context.Background(), s.config(t))
			noCanary(t, "report", rep)
			var hit *doctor.Finding
			for i, f := range rep.Findings {
				if strings.Contains(f.Source, tt.source) && strings.Contains(f.Problem, tt.problem) && f.Severity == tt.sev {
					hit = &rep.Findings[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %v finding from %q about %q in:\n%s", tt.sev, tt.source, tt.problem, dump(rep.Findings))
			}
			if !strings.Contains(hit.Fix, tt.fix) {
				t.Errorf("fix %q, want it to hold %q", hit.Fix, tt.fix)
			}
			if strings.Contains(tt.fix, "chmod") && !strings.HasSuffix(hit.Fix, filepath.Dir(s.creds)) && !strings.Contains(hit.Fix, s.home) {
				t.Errorf("fix %q does not name the file", hit.Fix)
			}
			if got := rep.Failed(); got != (tt.sev == doctor.SeverityError) {
				t.Errorf("Failed() = %v with\n%s", got, dump(rep.Findings))
			}
		})
	}
}

func dump(fs []doctor.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

// TestShadowedInsecureFile: the environment answers, but the credentials
// file behind it is world-readable: an error now, not when the environment
// is unset.
func TestShadowedInsecureFile(t *testing.T) {
	s := healthy(t)
	s.write(t, s.profiles, `{"profiles": {}}`, 0o600)
	s.write(t, s.creds, credsINI, 0o604)
	rep := doctor.Inspect(context.Background(), s.config(t))
	def := profileReport(t, rep, "default")
	if def.Answer == nil || def.Steps[2].Outcome != doctor.NotAsked || !strings.Contains(def.Steps[2].Probe, "0604") {
		t.Fatalf("default: %+v", def)
	}
	if !rep.Failed() {
		t.Fatalf("an insecure shadowed file passes:\n%s", dump(rep.Findings))
	}
}

// TestFindingsOnce: a problem shared by several profiles is one finding
// naming them all, and Log logs each finding once with its fix.
func TestFindingsOnce(t *testing.T) {
	s := healthy(t)
	s.write(t, s.creds, credsINI, 0o644)
	fs := doctor.Check(context.Background(), s.config(t))
	seen := map[string]bool{}
	for _, f := range fs {
		k := f.Source + "\x00" + f.Problem
		if seen[k] {
			t.Errorf("finding twice: %v", f)
		}
		seen[k] = true
	}
	var buf bytes.Buffer
	doctor.Log(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), fs)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(fs) {
		t.Fatalf("%d records for %d findings", len(lines), len(fs))
	}
	if !strings.Contains(buf.String(), `"level":"ERROR"`) || !strings.Contains(buf.String(), `"fix":"chmod 600 `) {
		t.Errorf("log: %s", buf.String())
	}
	if strings.Contains(buf.String(), canary) {
		t.Fatal("log holds a value")
	}
}

func TestExplain(t *testing.T) {
	s := healthy(t)
	cfg := s.config(t)
	pr, fs := doctor.Explain(context.Background(), cfg, "prod")
	noCanary(t, "explain", pr)
	if pr.Answer == nil || pr.Steps[0].Outcome != doctor.Answered || len(fs) != 0 {
		t.Fatalf("prod: %+v %v", pr, fs)
	}
	pr, fs = doctor.Explain(context.Background(), cfg, "staging")
	if pr.Answer != nil || pr.Defined || pr.Policy.Stdio || pr.Policy.Callers || !doctor.Failed(fs) {
		t.Fatalf("staging: %+v %v", pr, fs)
	}
	// A secret typed where a profile name belongs is not repeated.
	pr, fs = doctor.Explain(context.Background(), cfg, "wJalrXUtnFEMI"+canary)
	noCanary(t, "explain", pr)
	noCanary(t, "findings", fs)
}

func TestExplainReference(t *testing.T) {
	s := healthy(t)
	s.vars["MCP_CI_TOKEN"] = canary + "-ci"
	cfg := s.config(t)
	cfg.Required = nil
	tests := []struct {
		ref       string
		allowed   bool
		resources []doctor.ResourceDecision
		decision  string
	}{
		{"env:MCP_CI_TOKEN#token", true, []doctor.ResourceDecision{{"env:MCP_CI_TOKEN", "env:MCP_CI_*"}}, "allowed"},
		{"env:MCP_CI_TOKEN,AWS_SECRET_ACCESS_KEY", false,
			[]doctor.ResourceDecision{{"env:MCP_CI_TOKEN", "env:MCP_CI_*"}, {"env:AWS_SECRET_ACCESS_KEY", ""}}, "no allowed pattern covers env:AWS_SECRET_ACCESS_KEY"},
		{"file:production", true, []doctor.ResourceDecision{{"file:" + s.creds + "/production", "file:" + s.creds + "/*"}}, "allowed"},
		{"vault:secret/data/mcp/aws", false, nil, "does not serve its scheme"},
		{"no scheme", false, nil, "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			rr, _ := doctor.ExplainReference(context.Background(), cfg, tt.ref)
			noCanary(t, "reference report", rr)
			if rr.Allowed != tt.allowed || !slices.Equal(rr.Resources, tt.resources) || !strings.Contains(rr.Decision, tt.decision) {
				t.Fatalf("got %+v", rr)
			}
			if tt.allowed && (rr.Answer == nil || len(rr.Steps) != 1 || rr.Steps[0].Outcome != doctor.Answered) {
				t.Fatalf("allowed but not resolved: %+v", rr)
			}
		})
	}
	// No policy: every reference is refused, and nothing is read.
	cfg.AllowReferences = nil
	rr, _ := doctor.ExplainReference(context.Background(), cfg, "env:MCP_CI_TOKEN#token")
	if rr.Allowed || rr.Answer != nil || !strings.Contains(rr.Decision, "allows no references") || rr.Resources[0].CoveredBy != "" {
		t.Fatalf("no policy: %+v", rr)
	}
}

func TestFingerprinter(t *testing.T) {
	a, b := doctor.NewFingerprinter([]byte("k1")), doctor.NewFingerprinter([]byte("k1"))
	s := provider.NewSecret(canary)
	if a.Of(s) != b.Of(s) || len(a.Of(s)) != len("hmac:")+12 {
		t.Errorf("one key, two fingerprints: %s %s", a.Of(s), b.Of(s))
	}
	if doctor.NewFingerprinter([]byte("k2")).Of(s) == a.Of(s) {
		t.Errorf("two keys, one fingerprint")
	}
	if doctor.NewFingerprinter(nil).Of(s) == doctor.NewFingerprinter(nil).Of(s) {
		t.Errorf("two random keys, one fingerprint")
	}
	if a.Of(provider.NewSecret(canary+"x")) == a.Of(s) || a.Of("") != "" {
		t.Errorf("fingerprints do not tell values apart")
	}
	f, fromEnv := doctor.FingerprinterFromEnv(func(k string) string { return map[string]string{doctor.EnvFingerprintKey: "k1"}[k] })
	if !fromEnv || f.Of(s) != a.Of(s) {
		t.Errorf("FingerprinterFromEnv does not use the key")
	}
	if _, fromEnv := doctor.FingerprinterFromEnv(func(string) string { return "" }); fromEnv {
		t.Errorf("no key, yet from the environment")
	}
}

// TestSkip: a skipped provider is never called, and the walk moves past it.
func TestSkip(t *testing.T) {
	s := healthy(t)
	cfg := s.config(t)
	called := false
	kc := provider.WithName(provider.Func(func(context.Context, string) (provider.Credentials, error) {
		called = true
		return provider.Credentials{}, nil
	}), "keychain")
	cfg.Chain = append([]provider.Provider{kc}, cfg.Chain...)
	cfg.Skip = []string{"keychain"}
	rep := doctor.Inspect(context.Background(), cfg)
	if called {
		t.Fatal("a skipped provider was called")
	}
	def := profileReport(t, rep, "default")
	if def.Steps[0].Outcome != doctor.Skipped || !strings.Contains(def.Steps[0].Reason, "not checked") || def.Answer == nil || rep.Failed() {
		t.Fatalf("default: %+v\n%s", def, dump(rep.Findings))
	}
}
