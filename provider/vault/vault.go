package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider name used in [provider.Source] and errors.
const Name = "vault"

// Engine says how a path is read.
type Engine int

const (
	// EngineAuto asks Vault (sys/internal/ui/mounts/PATH, as the vault CLI
	// does) which engine and KV version serves the path.
	EngineAuto Engine = iota
	// EngineKV1 reads a KV version 1 mount.
	EngineKV1
	// EngineKV2 reads a KV version 2 mount (MOUNT/data/PATH).
	EngineKV2
	// EngineLogical reads the path as is: dynamic secrets engines such as
	// aws/creds/ROLE or database/creds/ROLE, whose answers carry leases.
	EngineLogical
)

func (e Engine) String() string {
	switch e {
	case EngineKV1:
		return "kv-v1"
	case EngineKV2:
		return "kv-v2"
	case EngineLogical:
		return "logical"
	}
	return "auto"
}

// Options configures a [Provider]. The zero value reads
// secret/data/mcp/{profile} with the token from VAULT_TOKEN or
// ~/.vault-token.
type Options struct {
	// Config is the api client configuration. Default api.DefaultConfig(),
	// which reads VAULT_ADDR, VAULT_CACERT, VAULT_CAPATH,
	// VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_SKIP_VERIFY,
	// VAULT_MAX_RETRIES, ... from the process environment as the vault CLI
	// does. Getenv then overrides the variables it supplies (see [New]).
	Config *api.Config
	// Address overrides VAULT_ADDR.
	Address string
	// Namespace overrides VAULT_NAMESPACE (Vault Enterprise / HCP).
	Namespace string

	// Auth logs in. Default: TokenAuth(VAULT_TOKEN) if that is set, else
	// TokenFileAuth(TokenFile) if that file exists, else no token (for
	// Vault Agent's API proxy, when VAULT_ADDR or VAULT_AGENT_ADDR is set).
	Auth Auth
	// TokenFile is the default token file. Default ~/.vault-token.
	TokenFile string

	// Mount is the secrets engine mount for profiles. Default "secret".
	Mount string
	// PathTemplate is the path, relative to Mount, of profile P's secret;
	// [ProfilePlaceholder] is replaced by P. Default "mcp/{profile}".
	PathTemplate string
	// Profiles maps profile names to references (see [ParseRef]) that
	// replace the template for those profiles, for example
	// {"aws": "vault:aws/creds/deploy"}.
	Profiles map[string]string
	// Engine says how paths are read. Default [EngineAuto].
	Engine Engine

	// Fields maps credential field names to the secret's keys, for example
	// {"access_key_id": "AWS_ACCESS_KEY_ID"}. Every named key must be
	// present. Nil takes every key under its own name.
	Fields map[string]string

	// LeaseMargin is how much of a lease's duration must remain for a
	// cached dynamic secret to be returned again. When less remains, the
	// secret is read anew and the old lease revoked; Expires says so (see
	// the package documentation). Default one third.
	LeaseMargin float64

	// MaxLeases bounds the dynamic secrets kept and renewed at once (one per
	// path). Beyond it the lease nearest its end stops being cached and
	// renewed (it is not revoked: it stays valid until its Expires).
	// Default 64.
	MaxLeases int

	// ReloginInterval is the shortest time between two logins caused by
	// Vault rejecting the token as invalid (revoked, expired, out of uses).
	// The first such login is immediate; within the interval after it, a
	// request whose token is rejected fails with an error wrapping
	// [ErrTokenRejected] and [provider.ErrUnavailable] instead of logging
	// in again. Logins at the end of a token's life, or because a token
	// file changed, are not limited. Default 5 seconds.
	ReloginInterval time.Duration

	// Getenv reads environment variables. Default os.Getenv.
	Getenv func(string) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives events (logins, renewals, lease changes); never
	// values or tokens. Default discards.
	Logger *slog.Logger
}

// Provider reads credentials from Vault. It is safe for concurrent use.
// Call Close to stop token and lease renewal.
type Provider struct {
	o        Options
	client   *api.Client
	sess     *session
	profiles map[string]Ref
	noConfig bool // nothing says where Vault is and how to log in

	flight singleflight.Group // one read per dynamic secret path at a time

	mu     sync.Mutex
	mounts map[string]mountInfo // by mount path ("secret"), at most maxMounts
	leases map[string]*lease    // by API path, at most Options.MaxLeases
	closed bool
}

// maxMounts bounds the mounts cache. Only mounts Vault reported are kept,
// so the bound is reached only with that many mounts in use.
const maxMounts = 256

type mountInfo struct {
	mount  string // "secret"
	engine Engine
}

// lease is a cached dynamic secret, tied to the token generation that read
// it and renewed by its watcher while Vault allows. Fields after creds are
// guarded by Provider.mu.
type lease struct {
	id       string
	gen      uint64               // session generation of the token that read it
	creds    provider.Credentials // every key; Expires is computed per answer
	duration time.Duration        // lease duration when read
	end      time.Time            // lease end as last read, renewed or looked up
	watcher  *api.LifetimeWatcher
	noLookup bool // the token may not call sys/leases/lookup
}

// New returns a Provider.
//
// Environment: VAULT_ADDR, VAULT_AGENT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
// VAULT_TLS_SERVER_NAME, VAULT_SKIP_VERIFY, VAULT_MAX_RETRIES,
// VAULT_HTTP_PROXY and VAULT_PROXY_ADDR are read
// through Options.Getenv; with the default Getenv the api package also reads
// the rest of its variables (VAULT_CLIENT_TIMEOUT, VAULT_RATE_LIMIT, ...).
// New does no network I/O.
func New(optFns ...func(*Options)) (*Provider, error) {
	var o Options
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Mount = strings.Trim(o.Mount, "/"); o.Mount == "" {
		o.Mount = "secret"
	}
	if o.PathTemplate == "" {
		o.PathTemplate = "mcp/" + ProfilePlaceholder
	}
	if o.LeaseMargin <= 0 || o.LeaseMargin >= 1 {
		o.LeaseMargin = 1.0 / 3
	}
	if o.MaxLeases <= 0 {
		o.MaxLeases = 64
	}
	if o.ReloginInterval <= 0 {
		o.ReloginInterval = 5 * time.Second
	}
	p := &Provider{o: o, profiles: map[string]Ref{}, mounts: map[string]mountInfo{}, leases: map[string]*lease{}}
	for name, s := range o.Profiles {
		r, err := ParseRef(s)
		if err != nil {
			return nil, fmt.Errorf("vault: Options.Profiles[%q]: %w", name, err)
		}
		p.profiles[name] = r
	}

	cfg := o.Config
	if cfg == nil {
		cfg = api.DefaultConfig()
	}
	if cfg.Error != nil {
		// DefaultConfig reads the process environment.
		return nil, configError("client configuration", cfg.Error, os.Getenv)
	}
	if err := applyEnv(cfg, o.Getenv); err != nil {
		return nil, err
	}
	if o.Address != "" {
		if _, err := checkURL("Options.Address", o.Address); err != nil {
			return nil, err
		}
		cfg.Address = o.Address
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, configError("client", err, o.Getenv)
	}
	guardRedirects(client, cfg)
	// The api package picks up VAULT_TOKEN and VAULT_NAMESPACE from the
	// process; the token belongs to the session, the rest to Getenv.
	client.ClearToken()
	ns := o.Namespace
	if ns == "" {
		ns = o.Getenv(api.EnvVaultNamespace)
	}
	if ns != "" {
		client.SetNamespace(ns)
	} else {
		client.ClearNamespace()
	}
	p.client = client

	auth := o.Auth
	if auth == nil {
		auth, p.noConfig = defaultAuth(o)
	}
	p.sess = newSession(client, auth, o.Getenv, o.Logger, o.Now, o.ReloginInterval)
	return p, nil
}

// applyEnv overrides cfg with the variables Getenv supplies.
func applyEnv(cfg *api.Config, getenv func(string) string) error {
	if v := getenv(api.EnvVaultAddress); v != "" {
		if _, err := checkURL(api.EnvVaultAddress, v); err != nil {
			return err
		}
		cfg.Address = v
	}
	if v := getenv(api.EnvVaultAgentAddr); v != "" {
		if _, err := checkURL(api.EnvVaultAgentAddr, v); err != nil {
			return err
		}
		cfg.AgentAddress = v
		cfg.Address = v
	}
	if err := applyProxy(cfg, getenv); err != nil {
		return err
	}
	if v := getenv(api.EnvVaultMaxRetries); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("vault: %s is not a non-negative integer", api.EnvVaultMaxRetries)
		}
		cfg.MaxRetries = int(n)
	}
	t := &api.TLSConfig{
		CACert:        getenv(api.EnvVaultCACert),
		CAPath:        getenv(api.EnvVaultCAPath),
		ClientCert:    getenv(api.EnvVaultClientCert),
		ClientKey:     getenv(api.EnvVaultClientKey),
		TLSServerName: getenv(api.EnvVaultTLSServerName),
	}
	set := t.CACert != "" || t.CAPath != "" || t.ClientCert != "" || t.ClientKey != "" || t.TLSServerName != ""
	if v := getenv(api.EnvVaultSkipVerify); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("vault: %s is not a boolean", api.EnvVaultSkipVerify)
		}
		t.Insecure, set = b, true
	}
	if set {
		if err := cfg.ConfigureTLS(t); err != nil {
			return configError("TLS configuration from VAULT_* variables", err, getenv)
		}
	}
	return nil
}

// defaultAuth picks the token source Vault users already have. It reports
// noConfig when nothing at all points at a Vault.
func defaultAuth(o Options) (Auth, bool) {
	if tok := o.Getenv(api.EnvVaultToken); tok != "" {
		return TokenAuth(tok), false
	}
	path := o.TokenFile
	if path == "" {
		home := o.Getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			path = filepath.Join(home, ".vault-token")
		}
	}
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return TokenFileAuth(path), false
		}
	}
	configured := o.Address != "" || o.Getenv(api.EnvVaultAddress) != "" || o.Getenv(api.EnvVaultAgentAddr) != "" || o.Config != nil
	return nil, !configured
}

// Name returns "vault".
func (p *Provider) Name() string { return Name }

// Client returns the api client the provider uses, for reads the provider
// does not cover. Its token is managed by the provider.
func (p *Provider) Client() *api.Client { return p.client }

// RefFor returns the reference profile maps to: Options.Profiles[profile],
// else Options.Mount and Options.PathTemplate. ok is false for a profile
// name that cannot be part of a Vault path.
func (p *Provider) RefFor(profile string) (Ref, bool) {
	if r, ok := p.profiles[profile]; ok {
		return r, true
	}
	path, ok := expandTemplate(p.o.PathTemplate, profile)
	if !ok {
		return Ref{}, false
	}
	return Ref{Mount: p.o.Mount, Path: path}, true
}

// Retrieve reads the secret profile maps to (see [Provider.RefFor]).
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: fmt.Errorf("vault: %w", err)}
	}
	ref, ok := p.RefFor(profile)
	if !ok {
		return provider.Credentials{}, provider.NotFound(Name, profile, p.o.Mount+"/"+p.o.PathTemplate, "vault: profile name cannot be used in a Vault path")
	}
	return p.retrieve(ctx, profile, ref, true)
}

// RetrieveRef reads the secret ref names, for a "vault:" reference. With
// ref.Field set, the result holds that one field under its own name;
// otherwise it holds every key of the secret, or Options.Fields.
func (p *Provider) RetrieveRef(ctx context.Context, ref Ref) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Err: fmt.Errorf("vault: %w", err)}
	}
	return p.retrieve(ctx, "", ref, ref.Field == "")
}

// Close stops token and lease renewal. Retrieve still works afterwards but
// renews nothing. Close revokes nothing: credentials already handed out stay
// valid until their Expires.
func (p *Provider) Close() error {
	p.sess.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, l := range p.leases {
		if l.watcher != nil {
			l.watcher.Stop()
		}
		delete(p.leases, k)
	}
	return nil
}

func (p *Provider) retrieve(ctx context.Context, profile string, ref Ref, mapFields bool) (provider.Credentials, error) {
	if p.noConfig {
		return provider.Credentials{}, provider.NotFound(Name, profile, "", "vault: not configured (no VAULT_ADDR, VAULT_TOKEN, ~/.vault-token or auth method)")
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		gen, err := p.sess.ensure(ctx)
		if err != nil {
			// Includes a rejected token within ReloginInterval of the last
			// re-login: unavailable, so a resolver serves its last value.
			return provider.Credentials{}, p.loginErr(ctx, profile, ref, err)
		}
		c, kind, err := p.read(ctx, gen, profile, ref, mapFields)
		if kind != kindInvalidToken {
			return c, err
		}
		// Vault says the token itself is no longer valid (a plain
		// "permission denied" is not this: it is about the path).
		lastErr = err
		p.sess.reject(gen)
	}
	return provider.Credentials{}, lastErr
}

func (p *Provider) loginErr(ctx context.Context, profile string, ref Ref, err error) error {
	loc := ref.fullPath()
	if ctx.Err() != nil {
		return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: fmt.Errorf("vault: %w", ctx.Err())}
	}
	var ul *unavailableLogin
	if errors.As(err, &ul) {
		return provider.Unavailable(Name, profile, loc, &ul.LoginError)
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: err}
}

// cachedMount returns the cached mount that holds path: the longest cached
// mount path that is path or a segment prefix of it. p.mu is held.
func (p *Provider) cachedMount(path string) (mountInfo, bool) {
	for k := path; k != ""; {
		if mi, ok := p.mounts[k]; ok {
			return mi, true
		}
		i := strings.LastIndexByte(k, '/')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return mountInfo{}, false
}

// mountFor finds the mount and engine serving ref.
func (p *Provider) mountFor(ctx context.Context, profile string, ref Ref) (mountInfo, errKind, error) {
	engine := p.o.Engine
	if engine != EngineAuto && ref.Mount != "" {
		return mountInfo{mount: strings.Trim(ref.Mount, "/"), engine: engine}, kindNone, nil
	}
	full := ref.fullPath()
	p.mu.Lock()
	mi, ok := p.cachedMount(full)
	p.mu.Unlock()
	if ok {
		return mi, kindNone, nil
	}
	s, err := p.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+full)
	if err != nil {
		c := classify(ctx, err)
		if c.kind != kindNotFound {
			return mountInfo{}, c.kind, p.toError(profile, full, "read", c)
		}
		s = nil
	}
	mi = mountInfo{mount: strings.Trim(ref.Mount, "/"), engine: EngineKV1}
	if s != nil && s.Data != nil {
		if m, ok := s.Data["path"].(string); ok && m != "" {
			mi.mount = strings.Trim(m, "/")
		}
		typ, _ := s.Data["type"].(string)
		var version string
		if opts, ok := s.Data["options"].(map[string]any); ok {
			version, _ = opts["version"].(string)
		}
		switch {
		case typ == "kv" && version == "2":
			mi.engine = EngineKV2
		case typ == "kv", typ == "generic", typ == "":
			mi.engine = EngineKV1
		default:
			mi.engine = EngineLogical
		}
	}
	if engine != EngineAuto {
		mi.engine = engine
	}
	if mi.mount == "" {
		// Old Vault without the endpoint, or no mount there: read the path
		// as is. Nothing is cached for it: a request must not be able to
		// grow the cache with paths that lead nowhere.
		mi.engine = EngineLogical
		return mi, kindNone, nil
	}
	if full != mi.mount && !strings.HasPrefix(full, mi.mount+"/") {
		// Not a prefix of what was asked (an odd answer): read the path
		// as is, and cache nothing.
		return mountInfo{engine: EngineLogical}, kindNone, nil
	}
	p.mu.Lock()
	if _, ok := p.mounts[mi.mount]; !ok && len(p.mounts) >= maxMounts {
		for k := range p.mounts {
			delete(p.mounts, k)
			break
		}
	}
	p.mounts[mi.mount] = mi
	p.mu.Unlock()
	return mi, kindNone, nil
}

// versionPinError refuses ?version=N on a path that is not KV v2, where a
// pin would be ignored (KV v1) or meaningless (dynamic secrets).
type versionPinError struct {
	path   string
	engine Engine
}

func (e *versionPinError) Error() string {
	return fmt.Sprintf("vault: invalid reference: a version applies to KV v2 secrets only, and %s is on a %s mount", e.path, e.engine)
}

// Unwrap returns [ErrInvalidRef] and [provider.ErrInvalidRef].
func (e *versionPinError) Unwrap() []error { return []error{ErrInvalidRef, provider.ErrInvalidRef} }

// refPathError refuses a reference to a KV v2 mount that is not written as
// the API path MOUNT/data/PATH.
type refPathError struct{ mount string }

func (e *refPathError) Error() string {
	return fmt.Sprintf("vault: invalid reference: %s is a KV v2 mount; write the secret's API path, %s/data/PATH", e.mount, e.mount)
}

// Unwrap returns [ErrInvalidRef] and [provider.ErrInvalidRef].
func (e *refPathError) Unwrap() []error { return []error{ErrInvalidRef, provider.ErrInvalidRef} }

// read does one read with generation gen's token. kind is kindInvalidToken
// when Vault rejected the token itself, which the caller may retry after
// logging in again.
func (p *Provider) read(ctx context.Context, gen uint64, profile string, ref Ref, mapFields bool) (provider.Credentials, errKind, error) {
	// The mount, and the path relative to it.
	mi, rel, kind, err := p.locate(ctx, profile, ref)
	if err != nil {
		return provider.Credentials{}, kind, err
	}
	if ref.Version > 0 && mi.engine != EngineKV2 {
		path := joinPath(mi.mount, rel)
		return provider.Credentials{}, kindNone, &provider.Error{Provider: Name, Profile: profile, Locator: path, Err: &versionPinError{path: path, engine: mi.engine}}
	}
	var (
		apiPath string
		data    map[string]any
		version int
	)
	switch mi.engine {
	case EngineKV2:
		apiPath = mi.mount + "/data/" + rel
		var s *api.KVSecret
		if ref.Version > 0 {
			s, err = p.client.KVv2(mi.mount).GetVersion(ctx, rel, ref.Version)
		} else {
			s, err = p.client.KVv2(mi.mount).Get(ctx, rel)
		}
		if err == nil {
			data = s.Data
			if s.VersionMetadata != nil {
				version = s.VersionMetadata.Version
			}
		}
	case EngineKV1:
		apiPath = mi.mount + "/" + rel
		var s *api.KVSecret
		s, err = p.client.KVv1(mi.mount).Get(ctx, rel)
		if err == nil {
			data = s.Data
		}
	default:
		apiPath = joinPath(mi.mount, rel)
		return p.readLogical(ctx, gen, profile, ref, mapFields, apiPath)
	}
	if err != nil {
		cl := classify(ctx, err)
		return provider.Credentials{}, cl.kind, p.toError(profile, apiPath, "read", cl)
	}
	if data == nil {
		// KV v2 answers a deleted or destroyed version with no data.
		return provider.Credentials{}, kindNone, provider.NotFound(Name, profile, apiPath, "vault: secret version is deleted or destroyed")
	}
	loc := apiPath
	if version > 0 {
		loc += "?version=" + strconv.Itoa(version)
	}
	creds, err := p.build(data, ref, mapFields, profile, loc)
	if err != nil {
		return provider.Credentials{}, kindNone, err
	}
	creds.FetchedAt = p.o.Now()
	return creds, kindNone, nil
}

// logicalResult is the outcome of one shared read of a logical path.
type logicalResult struct {
	creds provider.Credentials // every key of the secret
	fail  *classified          // nil on success
}

// readLogical reads a path as is (dynamic secrets engines). Concurrent
// reads of one path share one request, so they get one lease, not one each;
// the leased answer is kept (see cachedLease).
func (p *Provider) readLogical(ctx context.Context, gen uint64, profile string, ref Ref, mapFields bool, apiPath string) (provider.Credentials, errKind, error) {
	// The shared read does not end when the first caller gives up: an
	// abandoned read could mint a credential nobody would ever revoke. The
	// client's own timeout bounds it.
	ch := p.flight.DoChan(apiPath, func() (any, error) {
		return p.readShared(context.WithoutCancel(ctx), gen, apiPath), nil
	})
	var r logicalResult
	select {
	case res := <-ch:
		r = res.Val.(logicalResult)
	case <-ctx.Done():
		return provider.Credentials{}, kindCanceled, &provider.Error{Provider: Name, Profile: profile, Locator: apiPath, Err: fmt.Errorf("vault: %w", ctx.Err())}
	}
	if r.fail != nil {
		return provider.Credentials{}, r.fail.kind, p.toError(profile, apiPath, "read", *r.fail)
	}
	c := r.creds
	if ref.Field != "" || (mapFields && p.o.Fields != nil) {
		data := make(map[string]any, c.Len())
		for _, n := range c.Names() {
			data[n] = c.Value(n)
		}
		nc, err := p.build(data, ref, mapFields, profile, c.Source.Locator)
		if err != nil {
			return provider.Credentials{}, kindNone, err
		}
		nc.FetchedAt, nc.Expires = c.FetchedAt, c.Expires
		c = nc
	} else if c.IsZero() {
		return provider.Credentials{}, kindNone, provider.NotFound(Name, profile, c.Source.Locator, "vault: secret has no non-empty fields")
	}
	return c, kindNone, nil
}

// readShared serves a logical path from the lease cache when the cached
// lease is still good, else reads it.
func (p *Provider) readShared(ctx context.Context, gen uint64, apiPath string) logicalResult {
	old := p.cachedLease(apiPath, gen)
	if old != nil {
		good, fail := p.checkLease(ctx, old)
		if fail != nil {
			return logicalResult{fail: fail}
		}
		if good {
			return logicalResult{creds: p.leaseCreds(old)}
		}
		p.dropLease(apiPath, old)
		old = nil
	}
	p.mu.Lock()
	if l := p.leases[apiPath]; l != nil && l.gen == gen {
		old = l // kept until its replacement is read, then revoked
	}
	p.mu.Unlock()

	sent := p.o.Now() // Vault counts a lease from about now
	raw, err := p.client.Logical().ReadWithContext(ctx, apiPath)
	if err == nil && raw == nil {
		err = api.ErrSecretNotFound
	}
	if err != nil {
		c := classify(ctx, err)
		return logicalResult{fail: &c}
	}
	data := raw.Data
	version := 0
	if inner, meta, ok := kv2Envelope(data); ok {
		// A KV v2 answer read as a logical path (Options.Engine is
		// EngineLogical, or an old Vault without the mounts endpoint).
		if inner == nil {
			return logicalResult{fail: &classified{kind: kindNotFound, status: 404, reason: "secret version is deleted or destroyed"}}
		}
		data = inner
		if n, ok := meta["version"].(json.Number); ok {
			v, _ := n.Int64()
			version = int(v)
		}
	}
	loc := apiPath
	if version > 0 {
		loc += "?version=" + strconv.Itoa(version)
	}
	fields := make(map[string]string, len(data))
	for k, v := range data {
		fields[k] = stringify(v)
	}
	creds := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: loc})
	creds.FetchedAt = p.o.Now()
	if raw.LeaseID == "" || raw.LeaseDuration <= 0 {
		return logicalResult{creds: creds}
	}
	l := p.keepLease(apiPath, gen, raw, creds, sent)
	if old != nil && old.id != raw.LeaseID {
		p.revokeLease(ctx, apiPath, old)
	}
	return logicalResult{creds: p.leaseCreds(l)}
}

// kv2Envelope recognises KV v2's answer shape, {"data": {...} or null,
// "metadata": {...}}. inner is nil for a deleted or destroyed version.
func kv2Envelope(data map[string]any) (inner, meta map[string]any, ok bool) {
	if len(data) != 2 {
		return nil, nil, false
	}
	meta, ok = data["metadata"].(map[string]any)
	if !ok {
		return nil, nil, false
	}
	d, present := data["data"]
	if !present {
		return nil, nil, false
	}
	if d == nil {
		return nil, meta, true
	}
	inner, ok = d.(map[string]any)
	if !ok {
		return nil, nil, false
	}
	return inner, meta, true
}
func joinPath(mount, rel string) string {
	switch {
	case mount == "":
		return rel
	case rel == "":
		return mount
	}
	return mount + "/" + rel
}

// build selects and names fields.
func (p *Provider) build(data map[string]any, ref Ref, mapFields bool, profile, loc string) (provider.Credentials, error) {
	fields := map[string]string{}
	switch {
	case ref.Field != "":
		v, ok := data[ref.Field]
		if !ok {
			return provider.Credentials{}, provider.NotFound(Name, profile, loc, fmt.Sprintf("vault: secret has no key %q", ref.Field))
		}
		fields[ref.Field] = stringify(v)
	case mapFields && p.o.Fields != nil:
		for name, key := range p.o.Fields {
			v, ok := data[key]
			if !ok {
				return provider.Credentials{}, provider.NotFound(Name, profile, loc, fmt.Sprintf("vault: secret has no key %q (for field %s)", key, name))
			}
			fields[name] = stringify(v)
		}
	default:
		for k, v := range data {
			fields[k] = stringify(v)
		}
	}
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: loc})
	if c.IsZero() {
		return provider.Credentials{}, provider.NotFound(Name, profile, loc, "vault: secret has no non-empty fields")
	}
	return c, nil
}

// stringify renders a JSON value as a credential string: strings as is,
// other values as JSON.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// replaceAt is when a lease is replaced: once less than LeaseMargin of its
// duration remains. p.mu is held.
func (p *Provider) replaceAt(l *lease) time.Time {
	return l.end.Add(-time.Duration(float64(l.duration) * p.o.LeaseMargin))
}

// leaseCreds returns l's credentials with Expires set to the earliest of
// the time the provider replaces (and revokes) the lease and the end of the
// token that read it, as far as it is known: Vault revokes a token's leases
// with the token.
func (p *Provider) leaseCreds(l *lease) provider.Credentials {
	end := p.sess.tokenEnd(l.gen)
	p.mu.Lock()
	c := l.creds
	c.Expires = p.replaceAt(l)
	p.mu.Unlock()
	if !end.IsZero() && end.Before(c.Expires) {
		c.Expires = end
	}
	return c
}

// cachedLease returns the cached lease at path if it was read with
// generation gen's token and is not due for replacement.
func (p *Provider) cachedLease(path string, gen uint64) *lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.leases[path]
	if l == nil {
		return nil
	}
	if l.gen != gen {
		// Read with an earlier token: it ends with that token, which was
		// rejected or replaced at the end of its life. Read anew.
		if l.watcher != nil {
			l.watcher.Stop()
		}
		delete(p.leases, path)
		return nil
	}
	if !p.o.Now().Before(p.replaceAt(l)) {
		return nil
	}
	return l
}

// checkLease asks Vault whether l is still alive (sys/leases/lookup, which
// the default policy allows), since an operator or the token's revocation
// may have ended it. good is false when it is gone; fail is set when Vault
// rejected the token itself. Without permission to look leases up, or when
// Vault cannot be reached, the provider's own knowledge stands.
func (p *Provider) checkLease(ctx context.Context, l *lease) (good bool, fail *classified) {
	p.mu.Lock()
	skip := l.noLookup
	p.mu.Unlock()
	if skip {
		return true, nil
	}
	s, err := p.client.Sys().LookupWithContext(ctx, l.id)
	if err != nil {
		c := classify(ctx, err)
		switch c.kind {
		case kindInvalidToken:
			return false, &c
		case kindDenied:
			p.mu.Lock()
			l.noLookup = true
			p.mu.Unlock()
			return true, nil
		case kindUnavailable, kindCanceled:
			return true, nil
		}
		// 400 "invalid lease", 404: revoked or expired.
		p.o.Logger.Info("vault: cached lease is no longer valid; reading anew", "path", l.creds.Source.Locator)
		return false, nil
	}
	if s == nil || s.Data == nil {
		return false, nil
	}
	n, ok := s.Data["ttl"].(json.Number)
	if !ok {
		return true, nil
	}
	ttl, err := n.Int64()
	if err != nil {
		return true, nil
	}
	if ttl <= 0 {
		return false, nil
	}
	now := p.o.Now()
	d := time.Duration(ttl) * time.Second
	p.mu.Lock()
	// Vault rounds the rest to whole seconds, up as well.
	if e := now.Add(d - time.Second); e.Before(l.end) {
		l.end = e // ends sooner than known (its token's max TTL, say)
	}
	due := !now.Before(p.replaceAt(l))
	p.mu.Unlock()
	return !due, nil
}

// dropLease forgets l (gone in Vault) if it is still the one cached.
func (p *Provider) dropLease(path string, l *lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leases[path] == l {
		if l.watcher != nil {
			l.watcher.Stop()
		}
		delete(p.leases, path)
	}
}

// revokeLease revokes a lease that was replaced before its end. It needs
// "update" on sys/leases/revoke/<lease id> (not in the default policy);
// without it the lease lives until it expires, which is logged.
func (p *Provider) revokeLease(ctx context.Context, path string, l *lease) {
	_, err := p.client.Logical().WriteWithContext(ctx, "sys/leases/revoke/"+l.id, nil)
	if err != nil {
		p.o.Logger.Info("vault: could not revoke a replaced lease; it expires by itself", "path", path, "reason", classify(ctx, err).reason)
		return
	}
	p.o.Logger.Info("vault: revoked replaced lease", "path", path)
}

// keepLease caches a dynamic secret so that Retrieve does not mint a new one
// at every call, and renews it while Vault allows. It replaces (and stops
// renewing) the lease cached for path before.
func (p *Provider) keepLease(path string, gen uint64, raw *api.Secret, creds provider.Credentials, sent time.Time) *lease {
	d := time.Duration(raw.LeaseDuration) * time.Second
	l := &lease{id: raw.LeaseID, gen: gen, creds: creds, duration: d, end: sent.Add(d)}
	p.o.Logger.Info("vault: leased secret", "path", path, "lease_duration", d, "renewable", raw.Renewable)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return l
	}
	if old := p.leases[path]; old != nil {
		if old.watcher != nil {
			old.watcher.Stop()
		}
		delete(p.leases, path)
	}
	for len(p.leases) >= p.o.MaxLeases {
		// Stop caching the lease nearest its replacement. It is not
		// revoked: whoever holds it was told it lasts until its Expires.
		var victim string
		var at time.Time
		for k, v := range p.leases {
			if t := p.replaceAt(v); victim == "" || t.Before(at) {
				victim, at = k, t
			}
		}
		if v := p.leases[victim]; v.watcher != nil {
			v.watcher.Stop()
		}
		delete(p.leases, victim)
	}
	p.leases[path] = l
	if !raw.Renewable {
		return l
	}
	w, err := p.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: raw})
	if err != nil {
		return l
	}
	l.watcher = w
	go w.Start()
	go func() {
		for {
			select {
			case <-w.DoneCh():
				p.mu.Lock()
				if p.leases[path] == l {
					delete(p.leases, path)
				}
				p.mu.Unlock()
				p.o.Logger.Info("vault: lease renewal stopped", "path", path)
				return
			case r := <-w.RenewCh():
				if r == nil || r.Secret == nil {
					continue
				}
				nd := time.Duration(r.Secret.LeaseDuration) * time.Second
				p.mu.Lock()
				l.end = r.RenewedAt.Add(nd - skew(nd))
				p.mu.Unlock()
				p.o.Logger.Debug("vault: lease renewed", "path", path, "lease_duration", nd)
			}
		}
	}()
	return l
}
