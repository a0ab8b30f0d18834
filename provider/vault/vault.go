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
	// cached dynamic secret to be returned again. Default one third.
	LeaseMargin float64

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

	mu     sync.Mutex
	mounts map[string]mountInfo
	leases map[string]*lease
	closed bool
}

type mountInfo struct {
	mount  string // "secret"
	engine Engine
}

// lease is a cached dynamic secret, renewed by its watcher while it can be.
type lease struct {
	creds    provider.Credentials
	duration time.Duration
	watcher  *api.LifetimeWatcher
}

// New returns a Provider.
//
// Environment: VAULT_ADDR, VAULT_AGENT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
// VAULT_TLS_SERVER_NAME, VAULT_SKIP_VERIFY and VAULT_MAX_RETRIES are read
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
		return nil, fmt.Errorf("vault: client configuration: %w", cfg.Error)
	}
	if err := applyEnv(cfg, o.Getenv); err != nil {
		return nil, err
	}
	if o.Address != "" {
		cfg.Address = o.Address
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: client: %w", err)
	}
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
	p.sess = newSession(client, auth, o.Getenv, o.Logger, o.Now)
	return p, nil
}

// applyEnv overrides cfg with the variables Getenv supplies.
func applyEnv(cfg *api.Config, getenv func(string) string) error {
	if v := getenv(api.EnvVaultAddress); v != "" {
		cfg.Address = v
	}
	if v := getenv(api.EnvVaultAgentAddr); v != "" {
		cfg.AgentAddress = v
		cfg.Address = v
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
			return fmt.Errorf("vault: TLS configuration from VAULT_* variables: %w", err)
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
// renews nothing.
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
			return provider.Credentials{}, p.loginErr(ctx, profile, ref, err)
		}
		c, denied, err := p.read(ctx, profile, ref, mapFields)
		if !denied {
			return c, err
		}
		lastErr = err
		// 403: an expired or revoked token looks the same as a missing
		// capability. Ask Vault about the token; if it is gone, log in
		// again and retry once (hashicorp/vault#7289).
		if p.sess.auth == nil || !p.sess.tokenRejected(ctx) {
			return c, err
		}
		p.sess.invalidate(gen, "Vault rejected the token")
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

// mountFor finds the mount and engine serving ref.
func (p *Provider) mountFor(ctx context.Context, profile string, ref Ref) (mountInfo, error) {
	engine := p.o.Engine
	if engine != EngineAuto && ref.Mount != "" {
		return mountInfo{mount: ref.Mount, engine: engine}, nil
	}
	full := ref.fullPath()
	key := full
	if ref.Mount != "" {
		key = ref.Mount + "/"
	}
	p.mu.Lock()
	mi, ok := p.mounts[key]
	p.mu.Unlock()
	if ok {
		return mi, nil
	}
	s, err := p.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+full)
	if err != nil {
		c := classify(ctx, err)
		if c.kind != kindNotFound {
			return mountInfo{}, p.toError(profile, full, "read", c)
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
		// Old Vault without the endpoint: read the path as is (KV v1).
		mi.engine = EngineLogical
	}
	p.mu.Lock()
	p.mounts[key] = mi
	p.mu.Unlock()
	return mi, nil
}

// read does one read. denied reports a 403, which the caller may retry
// after logging in again.
func (p *Provider) read(ctx context.Context, profile string, ref Ref, mapFields bool) (c provider.Credentials, denied bool, err error) {
	mi, err := p.mountFor(ctx, profile, ref)
	if err != nil {
		var pe *PermissionError
		return provider.Credentials{}, errors.As(err, &pe), err
	}
	// Path relative to the mount.
	rel := ref.Path
	if ref.Mount == "" {
		rel = strings.TrimPrefix(strings.TrimPrefix(ref.Path, mi.mount), "/")
		if mi.engine == EngineKV2 {
			rel = strings.TrimPrefix(rel, "data/")
		}
	}
	var (
		apiPath string
		data    map[string]any
		raw     *api.Secret
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
			data, raw = s.Data, s.Raw
			if s.VersionMetadata != nil {
				version = s.VersionMetadata.Version
			}
		}
	case EngineKV1:
		apiPath = mi.mount + "/" + rel
		var s *api.KVSecret
		s, err = p.client.KVv1(mi.mount).Get(ctx, rel)
		if err == nil {
			data, raw = s.Data, s.Raw
		}
	default:
		apiPath = joinPath(mi.mount, rel)
		if l := p.cachedLease(apiPath); l != nil {
			return p.fromLease(l, ref, mapFields, profile, apiPath)
		}
		raw, err = p.client.Logical().ReadWithContext(ctx, apiPath)
		if err == nil && raw == nil {
			err = api.ErrSecretNotFound
		}
		if err == nil {
			data = raw.Data
			// A KV v2 answer read without knowing the mount (an old Vault
			// without the mounts endpoint): unwrap it.
			inner, ok1 := data["data"].(map[string]any)
			meta, ok2 := data["metadata"].(map[string]any)
			if ok1 && ok2 {
				data = inner
				if n, ok := meta["version"].(json.Number); ok {
					v, _ := n.Int64()
					version = int(v)
				}
			}
		}
	}
	if err != nil {
		cl := classify(ctx, err)
		return provider.Credentials{}, cl.kind == kindDenied, p.toError(profile, apiPath, "read", cl)
	}
	if data == nil {
		// KV v2 answers a deleted or destroyed version with no data.
		return provider.Credentials{}, false, provider.NotFound(Name, profile, apiPath, "vault: secret version is deleted or destroyed")
	}
	loc := apiPath
	if version > 0 {
		loc += "?version=" + strconv.Itoa(version)
	}
	now := p.o.Now()
	creds, err := p.build(data, ref, mapFields, profile, loc)
	if err != nil {
		return provider.Credentials{}, false, err
	}
	creds.FetchedAt = now
	if raw != nil && raw.LeaseID != "" && raw.LeaseDuration > 0 {
		d := time.Duration(raw.LeaseDuration) * time.Second
		creds.Expires = now.Add(d)
		p.keepLease(apiPath, raw, creds, d)
		p.o.Logger.Info("vault: leased secret", "path", apiPath, "lease_duration", d, "renewable", raw.Renewable)
	}
	return creds, false, nil
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

// cachedLease returns the cached dynamic secret at path if enough of its
// lease remains.
func (p *Provider) cachedLease(path string) *lease {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.leases[path]
	if l == nil {
		return nil
	}
	if l.creds.Expires.Sub(p.o.Now()) <= time.Duration(float64(l.duration)*p.o.LeaseMargin) {
		if l.watcher != nil {
			l.watcher.Stop()
		}
		delete(p.leases, path)
		return nil
	}
	return l
}

func (p *Provider) fromLease(l *lease, ref Ref, mapFields bool, profile, apiPath string) (provider.Credentials, bool, error) {
	p.mu.Lock()
	c := l.creds
	p.mu.Unlock()
	if ref.Field != "" || (mapFields && p.o.Fields != nil) {
		data := map[string]any{}
		for _, n := range c.Names() {
			data[n] = c.Value(n)
		}
		nc, err := p.build(data, ref, mapFields, profile, c.Source.Locator)
		if err != nil {
			return provider.Credentials{}, false, err
		}
		nc.FetchedAt, nc.Expires = c.FetchedAt, c.Expires
		c = nc
	}
	return c, false, nil
}

// keepLease caches a dynamic secret so that Retrieve does not mint a new one
// at every call, and renews it while Vault allows.
func (p *Provider) keepLease(path string, raw *api.Secret, creds provider.Credentials, d time.Duration) {
	all := map[string]string{}
	for k, v := range raw.Data {
		all[k] = stringify(v)
	}
	full := provider.NewCredentials(all, creds.Source)
	full.FetchedAt, full.Expires = creds.FetchedAt, creds.Expires
	l := &lease{creds: full, duration: d}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if old := p.leases[path]; old != nil && old.watcher != nil {
		old.watcher.Stop()
	}
	p.leases[path] = l
	if !raw.Renewable {
		return
	}
	w, err := p.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: raw})
	if err != nil {
		return
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
				c := l.creds
				c.Expires = r.RenewedAt.Add(nd)
				l.creds = c
				p.mu.Unlock()
				p.o.Logger.Debug("vault: lease renewed", "path", path, "lease_duration", nd)
			}
		}
	}()
}
