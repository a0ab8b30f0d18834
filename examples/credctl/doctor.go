package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/secretfile"
	"github.com/mcpcred/mcpcred/provider/ssm"
	"github.com/mcpcred/mcpcred/provider/vault"
	"github.com/mcpcred/mcpcred/resolver/doctor"
	"github.com/mcpcred/mcpcred/resolver/mcptool"
)

// awsFields are the fields whitelist-mcp requires.
var awsFields = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}

// chainNames are the providers --chain can name, in no particular order.
var chainNames = []string{"profile", "env", "file", "secretfile", "keychain", "vault", "ssm"}

// configFlags are the flags doctor and explain share.
type configFlags struct {
	server   string
	chain    string
	required string
	asJSON   bool
	timeout  time.Duration
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", `the server whose configuration to read: "whitelist-mcp" (the default unless --chain is given)`)
	fs.StringVar(&c.chain, "chain", "", "a chain of your own, in order: any of "+strings.Join(chainNames, ","))
	fs.StringVar(&c.required, "required", "", "with --chain: the fields every credential must have, comma-separated")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline for each provider call")
}

// loadConfig builds the doctor's Config from the environment, as the server
// named (or the chain given) reads it, and the findings about variables the
// server would refuse to start with.
func loadConfig(getenv func(string) string, cf configFlags) (doctor.Config, []doctor.Finding, string, error) {
	var pre []doctor.Finding
	bad := func(source, problem, fix string) {
		pre = append(pre, doctor.Finding{Source: source, Severity: doctor.SeverityError, Problem: problem, Fix: fix})
	}
	fp, fromEnv := doctor.FingerprinterFromEnv(getenv)
	cfg := doctor.Config{Getenv: getenv, Timeout: cf.timeout, Fingerprint: fp}
	keyNote := "fingerprints: HMAC-SHA256 under a random key made for this run (set " + doctor.EnvFingerprintKey + " to compare runs)"
	if fromEnv {
		keyNote = "fingerprints: HMAC-SHA256 under the key in " + doctor.EnvFingerprintKey
	}
	// The variables every MCP server of this module reads, parsed as they
	// do (resolver/mcptool.ReadEnv); a server refuses to start on an error.
	e, err := mcptool.ReadEnv(getenv)
	if err != nil {
		bad("environment", err.Error(), "correct the variable named; the server refuses to start while it is wrong")
		e.ActiveProfile, _ = profile.ActiveProfile(getenv)
		if e.ActiveProfile == "" {
			e.ActiveProfile = provider.DefaultProfile
		}
	}
	cfg.DefaultProfile, cfg.AllowReferences = e.ActiveProfile, e.AllowedReferences
	if e.AllowRequestCredentials {
		pre = append(pre, doctor.Finding{Source: mcptool.EnvAllowRequestCredentials, Severity: doctor.SeverityWarning,
			Problem: "the server accepts credentials passed in tool calls, which a model then handles",
			Fix:     "unset it unless a client must pass its own credentials"})
	}
	environ := os.Environ // for env:PREFIX_* references
	var schemes provider.Schemes
	cfg.Schemes = &schemes
	kcOpts := func(o *keychain.Options) { o.Timeout = cf.timeout }

	if cf.chain != "" {
		if cf.server != "" {
			return cfg, nil, "", errors.New("give --server or --chain, not both")
		}
		if cf.required != "" {
			cfg.Required = strings.Split(cf.required, ",")
		}
		schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv = getenv; o.Environ = environ }))
		schemes.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = getenv; o.Required = cfg.Required }))
		schemes.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = getenv("MCP_SECRETS_DIR") }))
		schemes.Register("keychain", keychain.Scheme(kcOpts))
		schemes.Register("vault", vault.Scheme(func(o *vault.Options) { o.Getenv = getenv }))
		schemes.Register("ssm", ssm.SchemeFromDefaultConfig())
		seen := map[string]bool{}
		for name := range strings.SplitSeq(cf.chain, ",") {
			name = strings.TrimSpace(name)
			if seen[name] {
				return cfg, nil, "", fmt.Errorf("--chain names %s twice", provider.Describe(name))
			}
			seen[name] = true
			switch name {
			case "profile":
				p, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv = getenv; o.Required = cfg.Required })
				if err != nil {
					return cfg, nil, "", err
				}
				cfg.Profiles = p
				cfg.Chain = append(cfg.Chain, p)
			case "env":
				cfg.Chain = append(cfg.Chain, env.New(func(o *env.Options) { o.Getenv = getenv; o.Environ = environ }))
			case "file":
				cfg.Chain = append(cfg.Chain, file.New(func(o *file.Options) { o.Getenv = getenv; o.Required = cfg.Required }))
			case "secretfile":
				cfg.Chain = append(cfg.Chain, secretfile.New(func(o *secretfile.Options) { o.Dir = getenv("MCP_SECRETS_DIR") }))
			case "keychain":
				cfg.Chain = append(cfg.Chain, keychain.New(kcOpts))
			case "vault":
				p, err := vault.New(func(o *vault.Options) { o.Getenv = getenv })
				if err != nil {
					bad("vault", err.Error(), "correct the VAULT_* variables")
					continue
				}
				cfg.Chain = append(cfg.Chain, p)
			case "ssm":
				p, err := ssm.NewFromDefaultConfig(context.Background())
				if err != nil {
					bad("ssm", err.Error(), "correct the AWS configuration the SSM client reads")
					continue
				}
				cfg.Chain = append(cfg.Chain, p)
			default:
				return cfg, nil, "", fmt.Errorf("--chain: unknown provider %s (known: %s)", provider.Describe(name), strings.Join(chainNames, ", "))
			}
		}
		return cfg, pre, "chain " + strings.Join(cfgNames(cfg), " → ") + "; " + keyNote, nil
	}

	switch cf.server {
	case "", "whitelist-mcp":
	default:
		return cfg, nil, "", fmt.Errorf("--server %s: this credctl knows whitelist-mcp; use --chain for another", provider.Describe(cf.server))
	}
	// whitelist-mcp's configuration (examples/whitelist-mcp: config.go,
	// creds.go): the profiles file, the environment, the credentials file,
	// then the keychain or, with MCP_CREDENTIAL_SOURCE=docker-secrets, the
	// secret aws_credentials in MCP_SECRETS_DIR.
	if getenv("MCP_ALLOWED_PROFILES") != "" {
		bad("MCP_ALLOWED_PROFILES", "is no longer read: the server refuses to start while it is set",
			"define the profiles in the profiles file ("+profile.EnvProfilesPath+", default ~/.mcp/profiles.json) and unset MCP_ALLOWED_PROFILES")
	}
	source := getenv("MCP_CREDENTIAL_SOURCE")
	if source != "" && source != "docker-secrets" {
		bad("MCP_CREDENTIAL_SOURCE", "is "+provider.Describe(source)+": the server refuses to start", `set it to "docker-secrets" or unset it`)
	}
	cfg.Required = awsFields
	schemes.Register("env", env.Scheme(func(o *env.Options) { o.Getenv = getenv; o.Environ = environ }))
	schemes.Register("file", file.Scheme(func(o *file.Options) { o.Getenv = getenv; o.Required = awsFields }))
	schemes.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = getenv("MCP_SECRETS_DIR") }))
	schemes.Register("keychain", keychain.Scheme(kcOpts))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv = getenv })
	if err != nil {
		return cfg, nil, "", err
	}
	cfg.Profiles = profiles
	cfg.Chain = []provider.Provider{
		profiles,
		env.New(func(o *env.Options) { o.Getenv = getenv }),
		file.New(func(o *file.Options) { o.Getenv = getenv; o.Required = awsFields }),
	}
	if source == "docker-secrets" {
		cfg.Chain = append(cfg.Chain, secretfile.New(func(o *secretfile.Options) {
			o.Dir = getenv("MCP_SECRETS_DIR")
			o.Files = map[string]string{provider.DefaultProfile: "aws_credentials"}
		}))
	} else {
		cfg.Chain = append(cfg.Chain, keychain.New(kcOpts))
	}
	return cfg, pre, "whitelist-mcp (chain " + strings.Join(cfgNames(cfg), " → ") + "); " + keyNote, nil
}

func cfgNames(cfg doctor.Config) []string {
	var out []string
	for _, p := range cfg.Chain {
		out = append(out, provider.NameOf(p))
	}
	return out
}

// doctorOutput is what doctor --json prints.
type doctorOutput struct {
	Configuration string `json:"configuration"`
	*doctor.Report
	Failed bool `json:"failed"`
}

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credctl doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf configFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "credctl doctor: takes no arguments (flags only)")
		return 2
	}
	cfg, pre, what, err := loadConfig(getenv, cf)
	if err != nil {
		fmt.Fprintln(stderr, "credctl doctor:", err)
		return 2
	}
	rep := doctor.Inspect(ctx, cfg)
	rep.Findings = append(pre, rep.Findings...)
	if cf.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(doctorOutput{Configuration: what, Report: rep, Failed: rep.Failed()})
	} else {
		printReport(stdout, what, rep)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

func runExplain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credctl explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf configFlags
	cf.register(fs)
	ref := fs.String("reference", "", "explain a credential reference (a request's credential_id) instead of a profile")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*ref == "") == (fs.NArg() != 1) || fs.NArg() > 1 {
		fmt.Fprintln(stderr, "credctl explain: give one PROFILE, or --reference REF")
		return 2
	}
	cfg, pre, what, err := loadConfig(getenv, cf)
	if err != nil {
		fmt.Fprintln(stderr, "credctl explain:", err)
		return 2
	}
	if *ref != "" {
		rr, findings := doctor.ExplainReference(ctx, cfg, *ref)
		findings = append(pre, findings...)
		if cf.asJSON {
			writeJSON(stdout, map[string]any{"configuration": what, "reference": rr, "findings": nonNil(findings)})
		} else {
			printReference(stdout, what, rr, findings)
		}
		if !rr.Allowed || rr.Answer == nil || doctor.Failed(findings) {
			return 1
		}
		return 0
	}
	pr, findings := doctor.Explain(ctx, cfg, fs.Arg(0))
	findings = append(pre, findings...)
	if cf.asJSON {
		writeJSON(stdout, map[string]any{"configuration": what, "profile": pr, "findings": nonNil(findings)})
	} else {
		fmt.Fprintln(stdout, "configuration:", what)
		printProfile(stdout, pr)
		printFindings(stdout, findings)
	}
	if pr.Answer == nil || doctor.Failed(findings) {
		return 1
	}
	return 0
}

func nonNil(f []doctor.Finding) []doctor.Finding {
	if f == nil {
		return []doctor.Finding{}
	}
	return f
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func printReport(w io.Writer, what string, rep *doctor.Report) {
	fmt.Fprintln(w, "configuration:", what)
	fmt.Fprintf(w, "default profile: %s\n", provider.Describe(rep.DefaultProfile))
	if len(rep.Files) > 0 {
		fmt.Fprintln(w, "\nfiles:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range rep.Files {
			if !f.Exists {
				fmt.Fprintf(tw, "  %s\t%s\tnot present\n", f.What, f.Path)
				continue
			}
			state := "ok"
			if f.Problem != "" {
				state = "INSECURE"
			}
			fmt.Fprintf(tw, "  %s\t%s\tmode %s\tchanged %s ago\t%s\n", f.What, f.Path, f.Mode, f.Age, state)
		}
		tw.Flush()
	}
	for i := range rep.Profiles {
		printProfile(w, &rep.Profiles[i])
	}
	printFindings(w, rep.Findings)
}

func printProfile(w io.Writer, pr *doctor.ProfileReport) {
	title := "profile " + pr.Profile
	if pr.Default {
		title += " (default)"
	}
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "  policy: %s\n", pr.Policy.Summary)
	if pr.WalkedAs != "" {
		fmt.Fprintf(w, "  walked as: %s\n", pr.WalkedAs)
	}
	printSteps(w, pr.Steps)
	printAnswer(w, pr.Answer)
	if pr.Error != "" {
		fmt.Fprintf(w, "  result: CANNOT RESOLVE: %s\n", pr.Error)
	}
}

func printSteps(w io.Writer, steps []doctor.Step) {
	for i, st := range steps {
		fmt.Fprintf(w, "  %d. %-10s %-9s %s\n", i+1, st.Provider, st.Outcome, st.Reason)
		if st.Probe != "" {
			fmt.Fprintf(w, "     %-10s %-9s %s\n", "", "probe:", st.Probe)
		}
		if len(st.Fingerprints) > 0 {
			fmt.Fprintf(w, "     %-10s %-9s %s\n", "", "", fingerprints(st.Fingerprints))
		}
	}
}

func printAnswer(w io.Writer, a *doctor.Answer) {
	if a == nil {
		return
	}
	fmt.Fprintf(w, "  result: %s\n", a.Source)
	if len(a.Fingerprints) > 0 {
		fmt.Fprintf(w, "  fields: %s\n", fingerprints(a.Fingerprints))
	} else {
		fmt.Fprintf(w, "  fields: %s\n", strings.Join(a.Fields, ", "))
	}
	if !a.Expires.IsZero() {
		fmt.Fprintf(w, "  expires: %s (in %s)\n", a.Expires.UTC().Format(time.RFC3339), a.ExpiresIn)
	}
}

func fingerprints(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, k+" "+m[k])
	}
	return strings.Join(parts, ", ")
}

func printFindings(w io.Writer, findings []doctor.Finding) {
	var errs, warns int
	fmt.Fprintln(w, "\nfindings:")
	if len(findings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, f := range findings {
		switch f.Severity {
		case doctor.SeverityError:
			errs++
		case doctor.SeverityWarning:
			warns++
		}
		who := ""
		if len(f.Profiles) > 0 {
			who = " [profile " + strings.Join(f.Profiles, ", ") + "]"
		}
		fmt.Fprintf(w, "  %s%s %s: %s\n", strings.ToUpper(f.Severity.String()), who, f.Source, f.Problem)
		if f.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", f.Fix)
		}
	}
	verdict := "ok"
	if errs > 0 {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "\n%s: %d error(s), %d warning(s)\n", verdict, errs, warns)
}

func printReference(w io.Writer, what string, rr *doctor.ReferenceReport, findings []doctor.Finding) {
	fmt.Fprintln(w, "configuration:", what)
	ref := rr.Reference
	if ref == "" {
		ref = "(does not parse)"
	}
	fmt.Fprintf(w, "\nreference %s\n", ref)
	pol := "none (MCP_ALLOWED_REFERENCES is empty)"
	if len(rr.Policy) > 0 {
		pol = strings.Join(rr.Policy, ", ")
	}
	fmt.Fprintf(w, "  policy patterns: %s\n", pol)
	for _, r := range rr.Resources {
		by := "NOT COVERED"
		if r.CoveredBy != "" {
			by = "covered by " + r.CoveredBy
		}
		fmt.Fprintf(w, "  reads %s: %s\n", r.Resource, by)
	}
	fmt.Fprintf(w, "  decision: %s\n", rr.Decision)
	printSteps(w, rr.Steps)
	printAnswer(w, rr.Answer)
	if rr.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", rr.Error)
	}
	printFindings(w, findings)
}
