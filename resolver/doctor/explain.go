package doctor

import (
	"context"
	"errors"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// ReferenceReport is the walk for one credential reference (a request's
// credential_id): what it reads, which pattern of the policy covers each
// resource, the resolver's decision and, when it allows the reference, what
// the reference resolves to.
type ReferenceReport struct {
	// Reference is the reference in canonical form; "" when it does not
	// parse.
	Reference string `json:"reference,omitempty"`
	// Resources lists what it reads, each with the pattern covering it.
	Resources []ResourceDecision `json:"resources,omitempty"`
	// Allowed is the policy's decision: a request may use the reference.
	Allowed bool `json:"allowed"`
	// Decision says why, in words.
	Decision string `json:"decision"`
	// Steps is the walk, when the reference is allowed.
	Steps  []Step   `json:"steps,omitempty"`
	Answer *Answer  `json:"answer,omitempty"`
	Error  string   `json:"error,omitempty"`
	Policy []string `json:"policy"` // the policy's patterns
}

// ResourceDecision is one resource a reference reads and the pattern of the
// policy that covers it ("" when none does).
type ResourceDecision struct {
	Resource  string `json:"resource"`
	CoveredBy string `json:"covered_by,omitempty"`
}

// ExplainReference explains how the resolver would treat a request passing
// ref as its credential_id: the Target its scheme makes of it
// (provider.Schemes.Open), each resource with the pattern of
// Config.AllowReferences that covers it (provider.RefPolicy.Covers), the
// decision, and, only when the policy allows it (nothing is read before
// that, as in the resolver), the walk.
//
// The reference is the operator's own input, so the report repeats it and
// the resources it reads; it never holds a value.
func ExplainReference(ctx context.Context, cfg Config, ref string) (*ReferenceReport, []Finding) {
	d := newRun(cfg)
	rr := &ReferenceReport{Policy: d.cfg.AllowReferences.Patterns()}
	if rr.Policy == nil {
		rr.Policy = []string{}
	}
	parsed, err := provider.ParseRef(ref)
	if err != nil {
		rr.Decision, rr.Error = "refused: it does not parse", err.Error()
		return rr, d.findings
	}
	rr.Reference = parsed.String()
	if d.cfg.Schemes == nil {
		rr.Decision = "refused: the server opens no references (resolver.Options.References is nil)"
		return rr, d.findings
	}
	t, err := d.cfg.Schemes.Open(ref)
	if err != nil {
		rr.Decision, rr.Error = "refused: its scheme cannot open it", err.Error()
		if errors.Is(err, provider.ErrUnknownScheme) {
			rr.Decision = "refused: the server does not serve its scheme"
		}
		return rr, d.findings
	}
	rr.Reference = t.Ref.String()
	var pats []provider.Pattern
	for _, s := range rr.Policy {
		if p, err := provider.ParsePattern(s); err == nil {
			pats = append(pats, p)
		}
	}
	var uncovered []string
	for _, res := range t.Resources {
		rd := ResourceDecision{Resource: res.String()}
		for _, p := range pats {
			if p.Covers(res) {
				rd.CoveredBy = p.String()
				break
			}
		}
		if rd.CoveredBy == "" {
			uncovered = append(uncovered, rd.Resource)
		}
		rr.Resources = append(rr.Resources, rd)
	}
	switch {
	case d.cfg.AllowReferences == nil || len(rr.Policy) == 0:
		rr.Decision = "refused: the operator allows no references (MCP_ALLOWED_REFERENCES is empty; resolver.Options.AllowReferences is nil)"
		return rr, d.findings
	case len(uncovered) > 0 || d.cfg.AllowReferences.Check(t) != nil:
		rr.Decision = "refused: no allowed pattern covers " + strings.Join(uncovered, ", ") + "; every resource a reference reads must be covered"
		return rr, d.findings
	}
	rr.Allowed = true
	rr.Decision = "allowed: every resource it reads is covered by a pattern"
	res, err := d.r.Resolve(ctx, resolver.Request{CredentialID: ref})
	var ce *resolver.ChainError
	switch {
	case err == nil:
		for _, a := range res.Skipped {
			rr.Steps = append(rr.Steps, Step{Provider: a.Provider, Outcome: Skipped, Reason: reasonOf(a)})
		}
		rr.Steps = append(rr.Steps, Step{Provider: res.Credentials.Source.Provider, Outcome: Answered, Reason: "from " + res.Credentials.Source.String()})
		rr.Answer = d.answer(rr.Reference, res)
	case errors.As(err, &ce):
		for _, a := range ce.Attempts {
			st := Step{Provider: a.Provider, Outcome: Skipped, Reason: reasonOf(a)}
			if !skippable(a.Err) {
				st.Outcome = Stopped
			}
			rr.Steps = append(rr.Steps, st)
			sev, fix := classify(a.Provider, a.Err, "")
			problem, fixed := splitFix(st.Reason)
			if fixed != "" {
				fix = fixed
			}
			d.add(Finding{Source: a.Provider, Severity: max(sev, SeverityWarning), Problem: problem, Fix: fix})
		}
		rr.Error = "no credentials: " + firstLine(err.Error())
	case errors.Is(err, resolver.ErrReferenceRefused):
		// The policy and the resolver disagree only if the scheme set
		// changed between the two calls; report the resolver's word.
		rr.Allowed, rr.Decision = false, "refused: "+err.Error()
	default:
		rr.Error = err.Error()
	}
	return rr, d.findings
}
