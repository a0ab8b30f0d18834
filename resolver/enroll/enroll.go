package enroll

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/resolver"
)

// MinKeyLen is the least length of Options.Key and Options.OldKeys.
const MinKeyLen = 32

// MaxValueLen bounds each value a user pastes into the form, in bytes.
const MaxValueLen = 4096

// maxBody bounds a POST body.
const maxBody = 16 << 10

// maxTicketJSON bounds a ticket's contents, so that it fits in a URL and,
// with a login cookie's state, in one cookie.
const maxTicketJSON = 1536

// Field is one credential field the user pastes into the form.
type Field struct {
	// Name is the credential field stored, such as "token" or
	// "secret_access_key" (provider.ValidField).
	Name string
	// Label is shown beside the input, such as "API token".
	Label string
	// Plain shows the input as text rather than as a password (an access
	// key id, a region).
	Plain bool
}

// OAuth is a third party whose authorization code flow (with PKCE)
// connects the user's account instead of a pasted token.
type OAuth struct {
	// Name is the client's plain name ([provider.IsName]), stored in the
	// credential's oauth_client field, so that every replica's [Refresh]
	// knows which Config refreshes it.
	Name string
	// Config is the client at the third party. Its RedirectURL must be
	// BaseURL + "/connected", or empty (New sets it).
	Config *oauth2.Config
	// Issuer, if set, is the third party's issuer identifier: an
	// authorization response to BASE/connected whose iss parameter (RFC
	// 9207) names another issuer is refused, so that a response of one
	// authorization server is never taken for another's (mix-up).
	Issuer string
}

// Profile says how a profile is enrolled: pasted Fields, an OAuth
// connection, or both (the user picks one).
type Profile struct {
	// Title is shown on the page and in the elicitation message.
	Title  string
	Fields []Field
	OAuth  *OAuth
}

// Options configure [New].
type Options struct {
	// BaseURL is the external URL of the enrollment pages, such as
	// https://mcp.example.com/enroll: https unless its host is a loopback
	// address, no query, fragment or user info. Handler serves its path and
	// below. Required.
	BaseURL string

	// Key seals tickets, states and cookies (a key per purpose, derived
	// with HKDF-SHA256; AES-256-GCM). At least MinKeyLen random bytes, the
	// same on every replica. Required.
	Key []byte

	// OldKeys still open what they sealed, nothing is sealed with them:
	// to rotate, make the current Key the first of OldKeys and set a new
	// Key on every replica; drop an old key once TicketTTL has passed
	// since no replica seals with it.
	OldKeys [][]byte

	// Issuer is the OpenID issuer the browser signs in with: the same
	// issuer whose tokens verify MCP callers (a ticket's caller must sign
	// in as the same issuer and subject). ClientID and ClientSecret are
	// this server's web client there, with redirect URI
	// BaseURL + "/callback". Issuer and ClientID are required.
	Issuer, ClientID, ClientSecret string

	// Profiles are the profiles that can be enrolled, and how. Each name
	// must be a profile of the profiles file whose source is per subject.
	Profiles map[string]Profile

	// Ledger makes each ticket usable once across replicas. Required:
	// StoreLedger for several replicas, MemoryLedger for one.
	Ledger Ledger

	// Resolver, if set, is invalidated (InvalidateFor) for the caller and
	// profile whenever a credential is stored or removed.
	Resolver *resolver.Resolver

	// TicketTTL is how long a link is good for, sign-in and form included.
	// Default 10 minutes.
	TicketTTL time.Duration

	// PollInterval is how often a pending elicitation checks the store.
	// Default 2 seconds.
	PollInterval time.Duration

	// MaxPending bounds the pending elicitations watched at once, across
	// sessions (default 1000), and at most 8 of one caller. Beyond it
	// Enroll still returns a link, and logs that no completion notice
	// will follow.
	MaxPending int

	// HTTPClient makes the requests to the issuer and to OAuth third
	// parties. Default http.DefaultClient.
	HTTPClient *http.Client

	// Logger receives one record per step: the event, the profile
	// (provider.Label), the ticket id's first 8 characters, the outcome
	// and, once verified, the caller's issuer and subject (as the
	// resolver's audit log names them). Never a value, a ticket or
	// request text. Default: discard.
	Logger *slog.Logger

	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// Enroller serves enrollment: [Enroller.Enroll] makes the link of a URL
// elicitation, [Enroller.Handler] the pages it leads to, and
// [Enroller.Remove] deletes a caller's credential. It is safe for
// concurrent use.
type Enroller struct {
	opts     Options
	profiles *profile.Provider
	seal     *sealer
	log      *slog.Logger

	base     *url.URL
	basePath string // BaseURL's path without a trailing slash
	origin   string // BaseURL's origin, as a browser sends it
	secure   bool

	login    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	connect  map[string]*oauth2.Config // per OAuth client name

	watch *registry
}

// ErrNotEnrollable is wrapped by [Enroller.Remove] for a profile that is
// not in Options.Profiles or not the caller's to change.
var ErrNotEnrollable = errors.New("enroll: the profile cannot be enrolled by this caller")

// New checks opts, discovers the issuer (OpenID discovery, with ctx) and
// returns an Enroller for the profiles of profiles.
func New(ctx context.Context, profiles *profile.Provider, opts Options) (*Enroller, error) {
	if profiles == nil {
		return nil, errors.New("enroll: New needs the profiles provider")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.TicketTTL <= 0 {
		opts.TicketTTL = 10 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 1000
	}
	if opts.Ledger == nil {
		return nil, errors.New("enroll: Options.Ledger is required (StoreLedger for several replicas, MemoryLedger for one)")
	}
	if opts.Issuer == "" || opts.ClientID == "" {
		return nil, errors.New("enroll: Options.Issuer and Options.ClientID are required: the browser signs in there")
	}
	if err := checkURL("Options.Issuer", opts.Issuer, true); err != nil {
		return nil, err
	}
	if err := checkURL("Options.BaseURL", opts.BaseURL, false); err != nil {
		return nil, err
	}
	e := &Enroller{opts: opts, profiles: profiles, log: opts.Logger, connect: map[string]*oauth2.Config{}}
	e.base, _ = url.Parse(opts.BaseURL)
	e.basePath = strings.TrimSuffix(e.base.EscapedPath(), "/")
	e.origin = originOf(e.base)
	e.secure = e.base.Scheme == "https"
	var err error
	if e.seal, err = newSealer(opts.Key, opts.OldKeys, opts.Now); err != nil {
		return nil, err
	}
	if len(opts.Profiles) == 0 {
		return nil, errors.New("enroll: Options.Profiles names no profile")
	}
	for name, p := range opts.Profiles {
		if err := e.checkProfile(name, p); err != nil {
			return nil, err
		}
	}
	hc := oidc.ClientContext(ctx, opts.HTTPClient)
	op, err := oidc.NewProvider(hc, opts.Issuer)
	if err != nil {
		return nil, errors.New("enroll: OpenID discovery for Options.Issuer failed")
	}
	if err := checkURL("the issuer's authorization endpoint", op.Endpoint().AuthURL, true); err != nil {
		return nil, err
	}
	e.login = &oauth2.Config{
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  e.url("/callback"),
		Scopes:       []string{oidc.ScopeOpenID},
	}
	e.verifier = op.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), opts.HTTPClient),
		&oidc.Config{ClientID: opts.ClientID, Now: opts.Now})
	e.watch = newRegistry(opts.MaxPending)
	return e, nil
}

func (e *Enroller) checkProfile(name string, p Profile) error {
	if !provider.IsName(name) {
		return fmt.Errorf("enroll: Options.Profiles: %s is not a plain profile name", provider.Describe(name))
	}
	if len(p.Fields) == 0 && p.OAuth == nil {
		return fmt.Errorf("enroll: profile %s has neither Fields nor OAuth", name)
	}
	seen := map[string]bool{"csrf": true}
	for _, f := range p.Fields {
		if !provider.ValidField(f.Name) || seen[f.Name] || f.Name == fieldOAuthClient || f.Name == fieldLease {
			return fmt.Errorf("enroll: profile %s: field %s is not a valid, distinct field name", name, provider.Describe(f.Name))
		}
		seen[f.Name] = true
	}
	if o := p.OAuth; o != nil {
		if o.Config == nil || !provider.IsName(o.Name) {
			return fmt.Errorf("enroll: profile %s: OAuth needs a plain Name and a Config", name)
		}
		if err := checkURL("profile "+name+"'s OAuth AuthURL", o.Config.Endpoint.AuthURL, true); err != nil {
			return err
		}
		if err := checkURL("profile "+name+"'s OAuth TokenURL", o.Config.Endpoint.TokenURL, true); err != nil {
			return err
		}
		want := e.url("/connected")
		cfg := *o.Config
		cfg.Scopes = slices.Clone(cfg.Scopes)
		switch cfg.RedirectURL {
		case "":
			cfg.RedirectURL = want
		case want:
		default:
			return fmt.Errorf("enroll: profile %s: OAuth Config.RedirectURL must be BaseURL + \"/connected\"", name)
		}
		if prev, ok := e.connect[o.Name]; ok && prev.ClientID != cfg.ClientID {
			return fmt.Errorf("enroll: two OAuth clients are named %s", o.Name)
		}
		e.connect[o.Name] = &cfg
	}
	return nil
}

// checkURL refuses what is not an absolute http(s) URL without query,
// fragment or user info, and plain http off loopback. query allows a
// query (an authorization endpoint may have one).
func checkURL(what, s string, query bool) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil ||
		(!query && (u.RawQuery != "" || u.ForceQuery)) {
		return fmt.Errorf("enroll: %s must be an absolute http(s) URL without user info, query or fragment", what)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("enroll: %s must be https unless its host is a loopback address", what)
	}
	return nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// originOf is u's origin as a browser writes it in an Origin header.
func originOf(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host
}

// url is BaseURL's origin and path followed by p.
func (e *Enroller) url(p string) string {
	return e.base.Scheme + "://" + e.base.Host + e.basePath + p
}

// ticket is what a link carries, sealed for purposeTicket: which caller
// may use it, for which profile. Its expiry is the sealed value's.
type ticket struct {
	ID       string   `json:"i"`
	Issuer   string   `json:"s"`
	Subject  string   `json:"u"`
	ClientID string   `json:"c,omitempty"`
	Groups   []string `json:"g,omitempty"`
	Profile  string   `json:"p"`

	exp time.Time
}

// caller is the verified caller the ticket was made for: Enroll took it
// from the MCP transport, and the browser proved it by signing in.
func (t *ticket) caller() *provider.Caller {
	return &provider.Caller{Issuer: t.Issuer, Subject: t.Subject, ClientID: t.ClientID, Groups: t.Groups}
}

func (t *ticket) prefix() string {
	if len(t.ID) < 8 {
		return t.ID
	}
	return t.ID[:8]
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Enroll is called when caller's per-subject profile has no credential
// (profile.ErrSourceEmpty). If the profile can be enrolled by caller (it
// is in Options.Profiles, caller is verified by Options.Issuer, and the
// profiles file lets caller store it: profile.Provider.StoreFor), it
// returns the URL elicitation that leads the user to the enrollment pages,
// and true. Otherwise it returns false and no error: the caller reports
// the original error. An error means the link could not be made.
//
// While the link is valid, a watcher of ss (one per session, caller and
// profile, at most Options.MaxPending in all) checks the store every
// PollInterval; once the credential is there, it invalidates the resolver
// for caller and profile and sends ss the elicitation's completion
// notice. It ends then, at the link's expiry, or when ss closes. A nil ss
// gets the link and no watcher.
func (e *Enroller) Enroll(ctx context.Context, ss *mcp.ServerSession, caller *provider.Caller, name string) (*mcp.ElicitParams, bool, error) {
	p, ok := e.opts.Profiles[name]
	if !ok || caller == nil || caller.Validate() != nil || caller.Issuer != e.opts.Issuer {
		return nil, false, nil
	}
	st, _, err := e.profiles.StoreFor(caller, name)
	switch {
	case errors.Is(err, profile.ErrNotOffered), errors.Is(err, profile.ErrNotPerSubject),
		errors.Is(err, provider.ErrReadOnly), errors.Is(err, provider.ErrNotFound):
		e.event(ctx, "enroll", name, "", caller, "not-enrollable")
		return nil, false, nil
	case err != nil:
		e.event(ctx, "enroll", name, "", caller, "failed")
		return nil, false, fmt.Errorf("enroll: %w", err)
	}
	t := ticket{ID: randomID(), Issuer: caller.Issuer, Subject: caller.Subject, ClientID: caller.ClientID, Groups: caller.Groups, Profile: name}
	if b, _ := json.Marshal(t); len(b) > maxTicketJSON {
		e.event(ctx, "enroll", name, "", caller, "caller-too-large")
		return nil, false, errors.New("enroll: the caller's identity (its groups) is too large for an enrollment link")
	}
	t.exp = e.opts.Now().Add(e.opts.TicketTTL).Truncate(time.Second)
	sealed, err := e.seal.sealValue(purposeTicket, t.exp, t)
	if err != nil {
		return nil, false, fmt.Errorf("enroll: %w", err)
	}
	title := p.Title
	if title == "" {
		title = name
	}
	params := &mcp.ElicitParams{
		Mode:          "url",
		URL:           e.url("/start?t=" + sealed),
		ElicitationID: t.ID,
		Message:       fmt.Sprintf("Add your credentials for %s: open this link, sign in as yourself, and follow the page. The link works once and expires in %s.", title, e.opts.TicketTTL.Round(time.Minute)),
	}
	outcome := "link"
	if ss != nil {
		if !e.watch.start(e, ss, &t, st) {
			outcome = "link-unwatched"
		}
	}
	e.event(ctx, "enroll", name, t.prefix(), caller, outcome)
	return params, true, nil
}

// Remove deletes caller's credential of profile name from its store
// (every version, where the store keeps versions) and invalidates the
// resolver for caller and profile. Other replicas stop serving it when
// their cached value ages out (the resolver's TTL). A profile that is not
// in Options.Profiles, or that caller may not store, is refused wrapping
// [ErrNotEnrollable].
func (e *Enroller) Remove(ctx context.Context, caller *provider.Caller, name string) error {
	if _, ok := e.opts.Profiles[name]; !ok || caller == nil || caller.Validate() != nil {
		return fmt.Errorf("%w: profile %s", ErrNotEnrollable, provider.Label(name))
	}
	st, _, err := e.profiles.StoreFor(caller, name)
	if err != nil {
		e.event(ctx, "remove", name, "", caller, "refused")
		return fmt.Errorf("%w: %w", ErrNotEnrollable, err)
	}
	if err := st.Delete(ctx, name); err != nil {
		e.event(ctx, "remove", name, "", caller, "failed")
		return fmt.Errorf("enroll: remove: %w", err)
	}
	e.invalidate(caller, name)
	e.event(ctx, "remove", name, "", caller, "removed")
	return nil
}

// Close stops every watcher. Enroll after Close returns links without
// watchers.
func (e *Enroller) Close() { e.watch.close() }

func (e *Enroller) invalidate(c *provider.Caller, name string) {
	if e.opts.Resolver != nil {
		e.opts.Resolver.InvalidateFor(c, name)
	}
}

// event logs one step. caller is a verified identity (from the MCP
// transport, or from a ticket this server sealed), named as the
// resolver's audit log names it.
func (e *Enroller) event(ctx context.Context, ev, name, prefix string, c *provider.Caller, outcome string) {
	attrs := []slog.Attr{slog.String("event", ev), slog.String("profile", provider.Label(name))}
	if prefix != "" {
		attrs = append(attrs, slog.String("ticket", prefix))
	}
	if c != nil {
		attrs = append(attrs, slog.String("issuer", c.Issuer), slog.String("subject", c.Subject))
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	e.log.LogAttrs(ctx, slog.LevelInfo, "mcpcred: enrollment", attrs...)
}
