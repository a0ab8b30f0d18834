package resolver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mcpcred/mcpcred/provider"
)

// audit writes one record for a Resolve to Options.Audit. It names the
// caller by its verified identity and the selection by provider.Describe;
// it never holds a value.
func (r *Resolver) audit(ctx context.Context, req Request, res Result, err error, start time.Time) {
	attrs := make([]slog.Attr, 0, 12)
	if c := req.Caller; c != nil {
		attrs = append(attrs, slog.String("issuer", c.Issuer), slog.String("subject", c.Subject))
		if c.ClientID != "" {
			attrs = append(attrs, slog.String("client", c.ClientID))
		}
	}
	if req.Tool != "" {
		attrs = append(attrs, slog.String("tool", provider.Label(req.Tool)))
	}
	switch {
	case !req.Credentials.IsZero():
		attrs = append(attrs, slog.String("selection", "credentials"))
	case req.CredentialID != "":
		attrs = append(attrs, slog.String("selection", "reference"), slog.String("reference", describeAny(req.CredentialID)))
	case req.Profile != "" && req.Profile != r.opts.Profile:
		attrs = append(attrs, slog.String("selection", "profile"), slog.String("profile", provider.Label(req.Profile)))
	default:
		attrs = append(attrs, slog.String("selection", "default"), slog.String("profile", provider.Label(r.opts.Profile)))
	}
	outcome := "ok"
	switch {
	case err == nil:
		attrs = append(attrs, slog.String("source", res.Credentials.Source.Provider), slog.Bool("stale", res.Stale))
	case errors.Is(err, ErrProfileRefused), errors.Is(err, ErrReferenceRefused), errors.Is(err, ErrRequestCredentialsRefused):
		outcome = "refused"
	case errors.Is(err, ErrInvalidProfile), errors.Is(err, ErrInvalidRequestCredentials),
		errors.Is(err, provider.ErrInvalidRef), errors.Is(err, ErrInvalidCaller):
		outcome = "invalid"
	default:
		outcome = "failed"
	}
	attrs = append(attrs, slog.String("outcome", outcome), slog.Duration("latency", r.now().Sub(start)))
	r.opts.Audit.LogAttrs(ctx, slog.LevelInfo, "mcpcred: credential resolution", attrs...)
}

// describeAny names a reference by its scheme and length when it parses,
// else by its length.
func describeAny(ref string) string {
	if _, err := provider.ParseRef(ref); err != nil {
		return provider.Describe(ref)
	}
	return describeRef(ref)
}
