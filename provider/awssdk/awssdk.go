package awssdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// Name is the provider's short name, used in errors and Source.Provider.
const Name = "awssdk"

// Defaults for [Options].
const (
	DefaultMaxProfiles = 256
	// DefaultProcessWaitDelay bounds how long a credential_process helper's
	// output is waited for after the helper exits or is stopped, in case a
	// process it started keeps the output pipe open.
	DefaultProcessWaitDelay = 5 * time.Second
)

// Options configure a [Provider]. The zero value gives the documented
// defaults.
type Options struct {
	// Getenv reads the variables this package reads itself, when [New]
	// runs: AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and HOME (then
	// USERPROFILE on Windows), which choose the shared config and
	// credentials files. The provider passes those files to the SDK
	// explicitly and watches them for changes. Every other variable
	// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_STS, AWS_ROLE_ARN,
	// AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_*, AWS_EC2_METADATA_*, ...)
	// is read by the SDK from the process environment. Default os.Getenv.
	Getenv func(string) string

	// LoadOptions are passed to config.LoadDefaultConfig for every profile,
	// after the provider's choice of files, so they may override it, and
	// before the profile, which the provider sets. An
	// AssumeRoleCredentialOptions or ProcessCredentialOptions among them
	// is kept and runs before the provider's own (see the package
	// documentation on credential_process). They must not give the SDK a
	// way to read the process's stdin, such as stscreds.StdinTokenProvider.
	LoadOptions []func(*config.LoadOptions) error

	// ProcessStderr receives what a credential_process helper writes to its
	// standard error. Default nil: it is discarded. It is never the
	// process's standard output. A helper's diagnostics can hold secrets;
	// send them only where secrets may go.
	ProcessStderr io.Writer

	// ProcessWaitDelay bounds how long a helper's output is waited for
	// after the helper exits or is stopped (exec.Cmd.WaitDelay). Default
	// DefaultProcessWaitDelay.
	ProcessWaitDelay time.Duration

	// MaxProfiles bounds the number of profiles whose loaded configuration
	// (and so whose SDK credential cache) is kept. Past it the profile
	// loaded longest ago is dropped. Default DefaultMaxProfiles.
	MaxProfiles int

	// Now tells the time for Credentials.FetchedAt. Default time.Now.
	Now func() time.Time

	// Logger receives a Debug record per configuration load and per
	// retrieval (profile, kind of source, expiry; never values). Default:
	// discard.
	Logger *slog.Logger
}

// Provider resolves a profile with aws-sdk-go-v2's own credential chain. It
// is safe for concurrent use.
type Provider struct {
	opts       Options
	base       []func(*config.LoadOptions) error
	files      []string // shared config files, then shared credentials files
	cfgFiles   []string
	credFiles  []string
	loProfile  string // a SharedConfigProfile set through Options.LoadOptions
	userAssume func(*stscreds.AssumeRoleOptions)
	userProc   func(*processcreds.Options)
	userCache  func(*aws.CredentialsCacheOptions)

	sf      singleflight.Group
	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one profile's loaded configuration.
type entry struct {
	cfg      aws.Config
	stamp    string // the shared files as they were when cfg was loaded
	locator  string
	loadedAt time.Time
	// noExpiry is set when the last credentials did not expire: the SDK's
	// cache would keep them for ever, so the next Retrieve asks again.
	noExpiry atomic.Bool
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider. It fails if Options.LoadOptions fail to apply, or
// if Options.ProcessStderr is os.Stdout.
func New(optFns ...func(*Options)) (*Provider, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.MaxProfiles <= 0 {
		o.MaxProfiles = DefaultMaxProfiles
	}
	if o.ProcessWaitDelay <= 0 {
		o.ProcessWaitDelay = DefaultProcessWaitDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if f, ok := o.ProcessStderr.(*os.File); ok && f == os.Stdout {
		return nil, errors.New("awssdk: Options.ProcessStderr must not be the process's standard output")
	}
	p := &Provider{opts: o, entries: make(map[string]*entry)}
	cfgFile, credFile := sharedFiles(o.Getenv)
	p.base = append([]func(*config.LoadOptions) error{
		config.WithSharedConfigFiles([]string{cfgFile}),
		config.WithSharedCredentialsFiles([]string{credFile}),
	}, o.LoadOptions...)
	var lo config.LoadOptions
	for _, fn := range p.base {
		if err := fn(&lo); err != nil {
			return nil, fmt.Errorf("awssdk: Options.LoadOptions: %w", err)
		}
	}
	p.cfgFiles, p.credFiles = lo.SharedConfigFiles, lo.SharedCredentialsFiles
	p.files = append(append([]string(nil), p.cfgFiles...), p.credFiles...)
	p.loProfile = lo.SharedConfigProfile
	p.userAssume, p.userProc, p.userCache = lo.AssumeRoleCredentialOptions, lo.ProcessCredentialOptions, lo.CredentialsCacheOptions
	return p, nil
}

// sharedFiles returns the shared config and credentials files as the SDK
// chooses them by default, reading the environment through getenv.
func sharedFiles(getenv func(string) string) (cfg, cred string) {
	home := getenv("HOME")
	if home == "" && runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	cfg, cred = getenv("AWS_CONFIG_FILE"), getenv("AWS_SHARED_CREDENTIALS_FILE")
	if cfg == "" {
		cfg = filepath.Join(home, ".aws", "config")
	}
	if cred == "" {
		cred = filepath.Join(home, ".aws", "credentials")
	}
	return cfg, cred
}

// Name returns "awssdk".
func (p *Provider) Name() string { return Name }

// Files returns the shared config files and then the shared credentials
// files the provider reads, in the SDK's order.
func (p *Provider) Files() []string { return append([]string(nil), p.files...) }

// Retrieve resolves profile with the SDK's credential chain: for
// [provider.DefaultProfile] (and "") the SDK's default chain, as the AWS
// CLI uses it without --profile; for any other name the shared-config
// profile of that name, as with --profile NAME. See the package
// documentation for what each error wraps.
func (p *Provider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	e, err := p.entry(ctx, profile)
	if err != nil {
		return provider.Credentials{}, err
	}
	if e.noExpiry.Load() {
		if inv, ok := e.cfg.Credentials.(interface{ Invalidate() }); ok {
			inv.Invalidate()
		}
	}
	v, err := e.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return provider.Credentials{}, p.retrieveError(ctx, profile, e.locator, err)
	}
	e.noExpiry.Store(!v.CanExpire)
	fields := map[string]string{
		provider.FieldAccessKeyID:     v.AccessKeyID,
		provider.FieldSecretAccessKey: v.SecretAccessKey,
		provider.FieldSessionToken:    v.SessionToken,
		provider.FieldRegion:          e.cfg.Region,
		FieldAccountID:                v.AccountID,
	}
	c := provider.NewCredentials(fields, provider.Source{Provider: Name, Locator: e.locator})
	if !c.Has(provider.FieldAccessKeyID) || !c.Has(provider.FieldSecretAccessKey) {
		return provider.Credentials{}, &provider.Error{Provider: Name, Profile: profile, Locator: e.locator,
			Err: errors.New("awssdk: the SDK returned credentials without an access key ID or secret access key")}
	}
	c.FetchedAt = p.opts.Now()
	if v.CanExpire {
		c.Expires = v.Expires
	}
	p.opts.Logger.DebugContext(ctx, "awssdk: retrieved", "profile", provider.Describe(profile), "source", e.locator, "expires", c.Expires)
	return c, nil
}

// FieldAccountID is the field holding the AWS account ID, when the SDK's
// source reports one (SSO, AssumeRole, credential_process with AccountId).
const FieldAccountID = "account_id"

// Invalidate drops the loaded configuration of profile, and with it the
// SDK's cached credentials for it: the next Retrieve loads the shared files
// again and asks the source again (for example after AWS rejected the
// credentials). "" and provider.DefaultProfile name the default chain.
func (p *Provider) Invalidate(profile string) {
	p.mu.Lock()
	delete(p.entries, key(profile))
	p.mu.Unlock()
}

// key maps a profile to its cache key: "" for the default chain.
func key(profile string) string {
	if profile == provider.DefaultProfile {
		return ""
	}
	return profile
}

// entry returns the loaded configuration for profile, loading it if it is
// not cached or a shared file changed since it was loaded.
func (p *Provider) entry(ctx context.Context, profile string) (*entry, error) {
	k, stamp := key(profile), p.stamp()
	p.mu.Lock()
	e := p.entries[k]
	p.mu.Unlock()
	if e != nil && e.stamp == stamp {
		return e, nil
	}
	ch := p.sf.DoChan(k+"\x00"+stamp, func() (any, error) {
		// The load must not fail for one caller giving up, and it makes no
		// network call (the first credential retrieval does).
		e, err := p.load(context.WithoutCancel(ctx), profile, stamp)
		if err != nil {
			return nil, err
		}
		p.store(k, e)
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, &provider.Error{Provider: Name, Profile: profile, Err: ctx.Err()}
	}
}

func (p *Provider) store(k string, e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.entries[k]; !ok && len(p.entries) >= p.opts.MaxProfiles {
		oldest := ""
		var at time.Time
		first := true
		for k2, e2 := range p.entries {
			if first || e2.loadedAt.Before(at) {
				oldest, at, first = k2, e2.loadedAt, false
			}
		}
		delete(p.entries, oldest)
	}
	p.entries[k] = e
}

// stamp describes the shared files as they are now: a change to any of them
// (written, replaced, created, removed) changes it.
func (p *Provider) stamp() string {
	var b strings.Builder
	for _, f := range p.files {
		b.WriteString(f)
		b.WriteByte(0)
		if fi, err := os.Stat(f); err == nil {
			b.WriteString(strconv.FormatInt(fi.ModTime().UnixNano(), 10))
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(fi.Size(), 10))
		} else {
			b.WriteString("-")
		}
		b.WriteByte(0)
	}
	return b.String()
}

// load builds the SDK configuration for profile.
func (p *Provider) load(ctx context.Context, profile, stamp string) (*entry, error) {
	named := key(profile) != ""
	opts := append([]func(*config.LoadOptions) error(nil), p.base...)
	// The profile whose credential_process the chain may run: the deepest
	// source_profile of the profile the SDK resolves.
	sdkProfile := profile
	if named {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	} else if sdkProfile = p.loProfile; sdkProfile == "" {
		if sdkProfile = os.Getenv("AWS_PROFILE"); sdkProfile == "" {
			sdkProfile = config.DefaultSharedConfigProfile
		}
	}
	g := &guard{p: p, command: p.leafProcess(ctx, sdkProfile)}
	opts = append(opts, func(o *config.LoadOptions) error {
		o.AssumeRoleCredentialOptions = g.assumeRole
		return nil
	})
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, p.loadError(profile, named, err)
	}
	sources := providerSources(cfg.Credentials)
	if err := g.secure(&cfg, sources); err != nil {
		return nil, &provider.Error{Provider: Name, Profile: profile, Err: err}
	}
	var loc string
	if named {
		loc = "profile " + provider.Describe(profile)
	} else {
		loc = "default chain"
	}
	loc += " (" + describeSources(sources) + ")"
	p.opts.Logger.DebugContext(ctx, "awssdk: loaded config", "profile", provider.Describe(profile), "source", loc)
	return &entry{cfg: cfg, stamp: stamp, locator: loc, loadedAt: p.opts.Now()}, nil
}

// leafProcess returns the credential_process of the deepest source_profile
// of profile, or "".
func (p *Provider) leafProcess(ctx context.Context, profile string) string {
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = p.cfgFiles, p.credFiles
	})
	if err != nil {
		return "" // LoadDefaultConfig reports it
	}
	leaf := &sc
	for i := 0; leaf.Source != nil && i < 64; i++ {
		leaf = leaf.Source
	}
	return leaf.CredentialProcess
}

func providerSources(c aws.CredentialsProvider) []aws.CredentialSource {
	if s, ok := c.(aws.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

// describeSources names the kinds of source in the SDK's chain, such as
// "source_profile, credential_process, assume role".
func describeSources(sources []aws.CredentialSource) string {
	var names []string
	seen := map[string]bool{}
	for _, s := range sources {
		n, ok := sourceNames[s]
		if !ok {
			n = "source " + strconv.Itoa(int(s))
		}
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "credentials provider"
	}
	return strings.Join(names, ", ")
}

var sourceNames = map[aws.CredentialSource]string{
	aws.CredentialSourceCode:                 "code",
	aws.CredentialSourceEnvVars:              "environment variables",
	aws.CredentialSourceEnvVarsSTSWebIDToken: "web identity token file (environment)",
	aws.CredentialSourceSTSAssumeRole:        "assume role",
	aws.CredentialSourceSTSAssumeRoleSaml:    "assume role with SAML",
	aws.CredentialSourceSTSAssumeRoleWebID:   "assume role with web identity",
	aws.CredentialSourceSTSFederationToken:   "federation token",
	aws.CredentialSourceSTSSessionToken:      "session token",
	aws.CredentialSourceProfile:              "static keys",
	aws.CredentialSourceProfileSourceProfile: "source_profile",
	aws.CredentialSourceProfileNamedProvider: "credential_source",
	aws.CredentialSourceProfileSTSWebIDToken: "web_identity_token_file",
	aws.CredentialSourceProfileSSO:           "sso_session",
	aws.CredentialSourceSSO:                  "SSO",
	aws.CredentialSourceProfileSSOLegacy:     "",
	aws.CredentialSourceSSOLegacy:            "SSO (legacy)",
	aws.CredentialSourceProfileProcess:       "",
	aws.CredentialSourceProcess:              "credential_process",
	aws.CredentialSourceHTTP:                 "container credentials endpoint",
	aws.CredentialSourceIMDS:                 "EC2 instance metadata",
	aws.CredentialSourceProfileLogin:         "",
	aws.CredentialSourceLogin:                "aws login",
}
