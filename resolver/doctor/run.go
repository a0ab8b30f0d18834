package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpcred/mcpcred/internal/securefile"
	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// run is one check: the resolvers it walks with and what it found.
type run struct {
	cfg      Config
	names    []string             // the chain's provider names
	r        *resolver.Resolver   // the whole chain, and references
	single   []*resolver.Resolver // one per provider of the chain, for probes
	findings []Finding
	badFiles map[string]bool // files whose permission problem is reported
}

func newRun(cfg Config) *run {
	cfg.setDefaults()
	d := &run{cfg: cfg, badFiles: map[string]bool{}}
	for i, p := range cfg.Chain {
		name := provider.NameOf(p)
		d.names = append(d.names, name)
		if slices.Contains(cfg.Skip, name) {
			d.cfg.Chain[i] = provider.WithName(provider.Func(func(_ context.Context, profile string) (provider.Credentials, error) {
				return provider.Credentials{}, provider.NotFound(name, profile, "", "not checked (doctor.Config.Skip)")
			}), name)
		}
	}
	cfg = d.cfg
	d.r = d.resolverFor(cfg.Chain, true)
	for _, p := range cfg.Chain {
		d.single = append(d.single, d.resolverFor([]provider.Provider{p}, false))
	}
	if cfg.Schemes != nil && cfg.AllowReferences != nil {
		if err := cfg.Schemes.CheckPolicy(cfg.AllowReferences); err != nil {
			d.add(Finding{Source: "reference policy", Severity: SeverityError, Problem: err.Error(),
				Fix: "name what a reference reads (see provider.Resource), such as env:MCP_CI_* or file:/home/u/.mcp/credentials/*; a server refuses to start with a pattern that covers nothing"})
		}
	}
	if securefile.InsecureFromEnv(cfg.Getenv) {
		d.add(Finding{Source: securefile.EnvInsecure, Severity: SeverityWarning,
			Problem: "insecure mode is on: the server logs permission problems of credential files instead of refusing the files",
			Fix:     "fix the permissions reported here, then unset " + securefile.EnvInsecure})
	}
	return d
}

// add records f, merging it into an equal finding about other profiles.
func (d *run) add(f Finding) {
	f.Profiles = describeAll(f.Profiles)
	for i, g := range d.findings {
		if g.Source == f.Source && g.Problem == f.Problem && g.Fix == f.Fix && g.Severity == f.Severity {
			for _, p := range f.Profiles {
				if !slices.Contains(g.Profiles, p) {
					d.findings[i].Profiles = append(d.findings[i].Profiles, p)
				}
			}
			return
		}
	}
	d.findings = append(d.findings, f)
}

// pather is a provider that reads one file.
type pather interface{ Path() string }

// files checks every file a provider of the chain (or the profiles file)
// reads.
func (d *run) files() []FileReport {
	ps := slices.Clone(d.cfg.Chain)
	if d.cfg.Profiles != nil && !slices.ContainsFunc(ps, func(p provider.Provider) bool { return p == provider.Provider(d.cfg.Profiles) }) {
		ps = append(ps, d.cfg.Profiles)
	}
	var out []FileReport
	seen := map[string]bool{}
	for _, p := range ps {
		pp, ok := p.(pather)
		if !ok || pp.Path() == "" || seen[pp.Path()] {
			continue
		}
		seen[pp.Path()] = true
		what, policy := "credentials file", securefile.Private
		if pr, ok := p.(*profile.Provider); ok {
			what, policy = "profiles file", securefile.NotWritable
			if f, err := pr.Load(); err == nil && f.HasSecrets() {
				policy = securefile.Private // it holds inline credentials
			}
		}
		out = append(out, d.checkFile(pp.Path(), what, policy))
	}
	return out
}

// checkFile applies internal/securefile's rules to path, whatever
// MCP_INSECURE_MODE says, and reports its mode and age.
func (d *run) checkFile(path, what string, policy securefile.Policy) FileReport {
	fr := FileReport{Path: path, What: what}
	real, walkProblem, err := securefile.CheckPath(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fr
	}
	if err != nil {
		fr.Problem = err.Error()
		d.add(Finding{Source: path, Severity: SeverityError, Problem: what + ": " + err.Error(), Fix: "make " + path + " a readable file, or point the variable that names it elsewhere"})
		return fr
	}
	fi, err := os.Stat(real)
	if err != nil {
		fr.Problem = err.Error()
		d.add(Finding{Source: path, Severity: SeverityError, Problem: what + ": " + err.Error(), Fix: "make " + path + " a readable file"})
		return fr
	}
	fr.Exists = true
	fr.Mode = securefile.Octal(fi.Mode())
	fr.Changed = fi.ModTime()
	fr.Age = Duration(d.cfg.Now().Sub(fi.ModTime()))
	if !fi.Mode().IsRegular() {
		fr.Problem = what + " " + path + " is not a regular file"
		d.add(Finding{Source: path, Severity: SeverityError, Problem: fr.Problem, Fix: "replace it with a regular file"})
		return fr
	}
	perr := securefile.CheckInfo(real, fi, policy)
	if perr == nil {
		if di, err := os.Stat(filepath.Dir(real)); err == nil {
			perr = securefile.CheckInfo(filepath.Dir(real), di, policy)
		}
	}
	if perr == nil {
		perr = walkProblem
	}
	if perr != nil {
		perr.Prefix = what + ": "
		fr.Problem, fr.Fix = splitFix(perr.Error())
		d.badFiles[path], d.badFiles[real], d.badFiles[perr.Path] = true, true, true
		d.add(Finding{Source: path, Severity: SeverityError, Problem: fr.Problem, Fix: fr.Fix})
	}
	if what == "credentials file" && d.cfg.MaxKeyAge > 0 && time.Duration(fr.Age) > d.cfg.MaxKeyAge {
		d.add(Finding{Source: path, Severity: SeverityWarning,
			Problem: fmt.Sprintf("the keys in %s were last changed %s ago (over %s)", path, fr.Age, Duration(d.cfg.MaxKeyAge)),
			Fix:     "rotate them: create new keys, store them (credctl import moves them into the keychain), then deactivate the old ones"})
	}
	return fr
}

// knownFileProblem reports whether err is a permission problem of a file
// already reported.
func (d *run) knownFileProblem(err error) bool {
	var perr *securefile.PermissionError
	return errors.As(err, &perr) && d.badFiles[perr.Path]
}

// splitFix splits "...; fix with: CMD" into the problem and CMD.
func splitFix(msg string) (problem, fix string) {
	if i := strings.LastIndex(msg, "; fix with: "); i >= 0 {
		return msg[:i], msg[i+len("; fix with: "):]
	}
	return msg, ""
}

// profile walks one profile.
func (d *run) profile(ctx context.Context, name string, file *profile.File) ProfileReport {
	pr := ProfileReport{Profile: provider.Describe(name), Default: name == d.cfg.DefaultProfile}
	var prof profile.Profile
	if file != nil {
		prof, pr.Defined = file.Get(name)
	}
	pr.Policy = d.policy(pr, prof)
	var caller *provider.Caller
	if pr.Defined && prof.Allow != nil {
		caller = callerFor(prof.Allow)
		pr.WalkedAs = describeCaller(caller)
	}
	res, err := d.r.Resolve(ctx, resolver.Request{Profile: name, Caller: caller})
	var attempts []resolver.Attempt
	var ce *resolver.ChainError
	switch {
	case err == nil:
		attempts = res.Skipped
	case errors.As(err, &ce):
		attempts = ce.Attempts
	default:
		pr.Error = err.Error()
		d.add(Finding{Profiles: []string{name}, Source: "resolver", Severity: SeverityError, Problem: err.Error(),
			Fix: "use a valid profile name (letters, digits, '.', '_' and '-')"})
		return pr
	}
	stopped := false
	for _, a := range attempts {
		st := Step{Provider: a.Provider, Outcome: Skipped, Reason: reasonOf(a)}
		if !skippable(a.Err) {
			st.Outcome, stopped = Stopped, true
		}
		pr.Steps = append(pr.Steps, st)
		d.attemptFinding(name, a, st.Outcome == Stopped)
	}
	var answer provider.Credentials
	if err == nil {
		answer = res.Credentials
		pr.Steps = append(pr.Steps, Step{Provider: d.names[len(attempts)], Outcome: Answered, Reason: "from " + answer.Source.String()})
		pr.Answer = d.answer(name, res)
	}
	for i := len(pr.Steps); i < len(d.names); i++ {
		st := Step{Provider: d.names[i], Outcome: NotAsked}
		d.probe(ctx, name, caller, i, &st, answer, err == nil)
		pr.Steps = append(pr.Steps, st)
	}
	if err != nil {
		pr.Error = "no credentials: " + firstLine(err.Error())
		if !stopped {
			d.add(Finding{Profiles: []string{name}, Source: "chain", Severity: SeverityError,
				Problem: "no provider of the chain (" + strings.Join(d.names, ", ") + ") has usable credentials for it",
				Fix:     d.configureHint(name)})
		}
	}
	return pr
}

// answer describes a resolved credential and reports an expiry that is
// near.
func (d *run) answer(name string, res resolver.Result) *Answer {
	c := res.Credentials
	a := &Answer{Source: c.Source.String(), Fields: c.Names(), Fingerprints: d.cfg.Fingerprint.credentials(c), Stale: res.Stale}
	if !c.Expires.IsZero() {
		a.Expires = c.Expires
		left := c.Expires.Sub(d.cfg.Now())
		a.ExpiresIn = Duration(left)
		if left < d.cfg.ExpiryWarning {
			d.add(Finding{Profiles: []string{name}, Source: c.Source.Provider, Severity: SeverityWarning,
				Problem: fmt.Sprintf("its credentials expire in %s (at %s)", Duration(left), c.Expires.UTC().Format(time.RFC3339)),
				Fix:     "renew them at their source before then, or let the source rotate them"})
		}
	}
	return a
}

// probe asks provider i alone for the profile, to say what it would answer
// if the walk reached it: a broken source hidden behind a working one is
// reported before it is needed.
func (d *run) probe(ctx context.Context, name string, caller *provider.Caller, i int, st *Step, answer provider.Credentials, answered bool) {
	res, err := d.single[i].Resolve(ctx, resolver.Request{Profile: name, Caller: caller})
	if err == nil {
		c := res.Credentials
		st.Fingerprints = d.cfg.Fingerprint.credentials(c)
		switch {
		case !answered:
			st.Probe = "has credentials (" + c.Source.String() + "), but the walk stops before it"
		case c.Equal(answer):
			st.Probe = "would answer too, with the same values (" + c.Source.String() + ")"
		default:
			st.Probe = "would answer too, with other values (" + c.Source.String() + "): it is shadowed"
		}
		return
	}
	var ce *resolver.ChainError
	if !errors.As(err, &ce) || len(ce.Attempts) == 0 {
		st.Probe = firstLine(err.Error())
		return
	}
	a := ce.Attempts[0]
	if errors.Is(a.Err, provider.ErrNotFound) && !errors.Is(a.Err, provider.ErrFinal) {
		return // nothing there
	}
	st.Probe = reasonOf(a)
	if d.knownFileProblem(a.Err) {
		return // the file's own finding says it
	}
	sev, fix := classify(a.Provider, a.Err, name)
	if sev == SeverityInfo {
		return
	}
	if sev == SeverityError && !isInsecure(a.Err) {
		sev = SeverityWarning // not used now: broken, but shadowed
	}
	problem, fixed := splitFix(st.Probe)
	if fixed != "" {
		fix = fixed
	}
	d.add(Finding{Profiles: []string{name}, Source: a.Provider, Severity: sev,
		Problem: "not asked now (an earlier source decides), but broken: " + problem, Fix: fix})
}

// attemptFinding records what a provider the walk asked got wrong.
func (d *run) attemptFinding(name string, a resolver.Attempt, stopped bool) {
	sev, fix := classify(a.Provider, a.Err, name)
	if sev == SeverityInfo && !stopped {
		return
	}
	var perr *securefile.PermissionError
	if errors.As(a.Err, &perr) && d.badFiles[perr.Path] {
		// One finding for every profile the insecure file stops.
		if stopped {
			d.add(Finding{Profiles: []string{name}, Source: a.Provider, Severity: SeverityError,
				Problem: "cannot resolve while " + perr.Path + " is insecure (see its finding)", Fix: fix})
		}
		return
	}
	if stopped {
		sev = SeverityError // the profile cannot resolve
	}
	problem, fixed := splitFix(reasonOf(a))
	if fixed != "" {
		fix = fixed
	}
	if stopped {
		problem = "stops the walk (a definite failure is never bypassed): " + problem
	}
	d.add(Finding{Profiles: []string{name}, Source: a.Provider, Severity: sev, Problem: problem, Fix: fix})
}

// reasonOf is the attempt's reason without its provider's name.
func reasonOf(a resolver.Attempt) string {
	return strings.TrimPrefix(a.String(), a.Provider+": ")
}

// skippable reports whether the resolver moves past err.
func skippable(err error) bool {
	return (errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrUnavailable)) && !errors.Is(err, provider.ErrFinal)
}

func isInsecure(err error) bool { return errors.Is(err, securefile.ErrInsecurePermissions) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(s, ", tried:")
}

// classify says how bad err from provider is, and how to fix it.
func classify(prov string, err error, name string) (Severity, string) {
	var perr *securefile.PermissionError
	var se *provider.SyntaxError
	switch {
	case errors.As(err, &perr):
		_, fix := splitFix(perr.Error())
		return SeverityError, fix
	case errors.As(err, &se):
		where := se.Path
		if se.Line > 0 {
			where = fmt.Sprintf("line %d of %s", se.Line, se.Path)
		}
		return SeverityError, "correct " + where + " (" + se.Reason + ")"
	case errors.Is(err, securefile.ErrTooLarge):
		return SeverityError, "point the setting that names the file at the right file"
	case errors.Is(err, profile.ErrNotOffered):
		return SeverityWarning, `name the caller in the profile's "allow" in the profiles file, or leave "allow" out to offer it to stdio requests`
	case errors.Is(err, profile.ErrSourceEmpty):
		return SeverityError, `store the credentials where the profile's "source" points, or point "source" at where they are`
	case errors.Is(err, profile.ErrIncomplete):
		return SeverityError, `add the missing fields where the profile's "source" points`
	case errors.Is(err, profile.ErrExpired):
		return SeverityError, `renew the credentials where the profile's "source" points`
	case errors.Is(err, profile.ErrSubjectSource):
		return SeverityError, `check the profile's per-subject "source" template and "allow"`
	case errors.Is(err, provider.ErrUnknownScheme):
		return SeverityError, `register the scheme in the server, or change the profile's "source" to a scheme it serves`
	case errors.Is(err, provider.ErrInvalidRef):
		return SeverityError, `correct the profile's "source" reference (see provider.ParseRef)`
	case errors.Is(err, resolver.ErrProviderPanicked):
		return SeverityError, "the provider has a bug; report it, and remove it from the chain meanwhile"
	case errors.Is(err, provider.ErrUnavailable):
		return SeverityWarning, unavailableFix(backendOf(prov, err.Error()))
	case errors.Is(err, provider.ErrNotFound):
		return SeverityInfo, ""
	case prov == "env":
		return SeverityError, "set the variables it names as missing, or unset the others: the environment must hold a whole credential or none"
	}
	return SeverityError, "see the problem; the walk stops at this source until it is fixed"
}

// backendOf names the backend behind prov: a profile's errors name the
// scheme of its source ("its keychain: source").
func backendOf(prov, msg string) string {
	if prov != profile.Name {
		return prov
	}
	for _, b := range []string{"keychain", "vault", "ssm", "secretfile", "file", "env"} {
		if strings.Contains(msg, "its "+b+": source") {
			return b
		}
	}
	return prov
}

func unavailableFix(backend string) string {
	switch backend {
	case "keychain":
		return "unlock the keyring (sign in to the desktop session; or run gnome-keyring-daemon --unlock with the password on stdin; on macOS: security unlock-keychain), or start a Secret Service (gnome-keyring, KeePassXC)"
	case "vault":
		return "check that Vault is reachable and unsealed (vault status; VAULT_ADDR) and that the token is valid (vault token lookup; VAULT_TOKEN or ~/.vault-token)"
	case "ssm":
		return "check network access to SSM and the AWS credentials used to read it (aws ssm get-parameters-by-path)"
	}
	return "bring the backend back; meanwhile the resolver skips it, serving a cached value while it may"
}

// sectioner is the file provider's view of a profile's section.
type sectioner interface {
	Path() string
	Section(profile string) string
}

// configureHint says where a profile's credentials could be put, for each
// provider of the chain this module knows.
func (d *run) configureHint(name string) string {
	var hints []string
	fields := d.cfg.Required
	if len(fields) == 0 {
		fields = []string{"FIELD"}
	}
	for i, p := range d.cfg.Chain {
		switch d.names[i] {
		case "profile":
			if pp, ok := p.(pather); ok {
				hints = append(hints, fmt.Sprintf("define %s in %s with a \"source\"", provider.Describe(name), pp.Path()))
			}
		case "env":
			if name == d.cfg.DefaultProfile && slices.Contains(fields, provider.FieldAccessKeyID) {
				hints = append(hints, "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
			}
		case "file":
			if sp, ok := p.(sectioner); ok && sp.Path() != "" && provider.IsName(sp.Section(name)) {
				hints = append(hints, fmt.Sprintf("add a [%s] section with %s to %s (mode 0600)", sp.Section(name), strings.Join(fields, ", "), sp.Path()))
			}
		case "keychain":
			if provider.IsName(name) {
				hints = append(hints, "credctl set --profile "+name+" "+strings.Join(fields, " "))
			}
		case "secretfile":
			hints = append(hints, fmt.Sprintf("mount a secret for %s in the secrets directory", provider.Describe(name)))
		}
	}
	if len(hints) == 0 {
		return "store credentials for it in a source of the chain"
	}
	return strings.Join(hints, "; or ")
}

// policy says who may select the profile.
func (d *run) policy(pr ProfileReport, prof profile.Profile) Policy {
	switch {
	case pr.Defined && prof.Allow != nil:
		who := describeAllow(prof.Allow)
		if pr.Default {
			return Policy{Callers: true, Summary: "resolved when a request names no profile, but only for the verified callers its \"allow\" names (" + who + "); a stdio request is refused"}
		}
		return Policy{Callers: true, Summary: "only verified callers its \"allow\" names may select it (" + who + "); never a stdio request"}
	case pr.Defined:
		if pr.Default {
			return Policy{Stdio: true, Summary: "resolved when a stdio request names no profile; verified (remote) callers are refused: it has no \"allow\""}
		}
		return Policy{Stdio: true, Summary: "a stdio request may select it by name; no verified (remote) caller may: it has no \"allow\""}
	case pr.Default:
		return Policy{Stdio: true, Summary: "resolved for a stdio request that names no profile; a verified (remote) caller is refused unless the policy offers it (with a profiles file: define it there with an \"allow\" naming the callers)"}
	case d.cfg.Profiles == nil:
		return Policy{Summary: "no request may select it: without a profiles file only the default profile is offered"}
	}
	return Policy{Summary: "no request may select it: the profiles file does not define it"}
}

// describeAllow lists an "allow" object's entries, rendered with
// provider.Describe.
func describeAllow(a *profile.Allow) string {
	var parts []string
	for _, l := range []struct {
		key  string
		vals []string
	}{{"subjects", a.Subjects}, {"groups", a.Groups}, {"clients", a.Clients}, {"issuers", a.Issuers}} {
		if l.vals != nil {
			parts = append(parts, l.key+" "+strings.Join(describeAll(l.vals), ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// callerFor returns a verified caller that a matches: the first subject
// (else the first group), with the first issuer and client.
func callerFor(a *profile.Allow) *provider.Caller {
	c := &provider.Caller{Issuer: "https://doctor.invalid", Subject: "doctor"}
	if len(a.Issuers) > 0 {
		c.Issuer = a.Issuers[0]
	}
	if len(a.Subjects) > 0 {
		c.Subject = a.Subjects[0]
	} else if len(a.Groups) > 0 {
		c.Groups = a.Groups[:1]
	}
	if len(a.Clients) > 0 {
		c.ClientID = a.Clients[0]
	}
	return c
}

func describeCaller(c *provider.Caller) string {
	s := "a verified caller its \"allow\" names"
	if c.Subject != "doctor" {
		s += " (subject " + provider.Describe(c.Subject) + ")"
	} else if len(c.Groups) > 0 {
		s += " (group " + provider.Describe(c.Groups[0]) + ")"
	}
	return s
}
