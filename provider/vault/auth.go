package vault

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/kubernetes"
)

// Auth obtains a Vault token. It has the method set of api.AuthMethod, so
// every method in github.com/hashicorp/vault/api/auth/... (userpass, aws,
// gcp, ...) can be used as is. The provider calls Login with a client that
// carries no token, whenever it needs a token: at the first request, when
// renewal stops, and when Vault rejects the token.
type Auth interface {
	Login(ctx context.Context, client *api.Client) (*api.Secret, error)
}

// envLogin is implemented by this package's methods, which read the
// environment through the provider's Getenv.
type envLogin interface {
	loginEnv(ctx context.Context, client *api.Client, getenv func(string) string) (*api.Secret, error)
}

// externalToken is implemented by methods whose token is owned by someone
// else (a person, Vault Agent): the provider never renews it.
type externalToken interface {
	external() bool
}

// changed is implemented by methods that notice their source changed, so the
// provider logs in again (re-reads the token) before the next request.
type changed interface {
	changed() bool
}

// describer names a method in errors and logs.
type describer interface {
	describe() string
}

func describeAuth(a Auth) string {
	if d, ok := a.(describer); ok {
		return d.describe()
	}
	return fmt.Sprintf("%T", a)
}

// TokenAuth uses a fixed token, such as the value of VAULT_TOKEN. The
// provider looks the token up (auth/token/lookup-self) to learn its TTL and
// whether it can be renewed. A token whose policies do not allow that lookup
// (one without the "default" policy) is used as it is: not renewed, its TTL
// unknown.
func TokenAuth(token string) Auth { return tokenAuth{token: token} }

type tokenAuth struct{ token string }

func (a tokenAuth) describe() string { return "token" }
func (a tokenAuth) external() bool   { return false }

// Login looks the token up and returns it with its TTL and renewability.
func (a tokenAuth) Login(ctx context.Context, client *api.Client) (*api.Secret, error) {
	if strings.TrimSpace(a.token) == "" {
		return nil, loginErrorf("empty token")
	}
	return lookupToken(ctx, client, strings.TrimSpace(a.token))
}

func lookupToken(ctx context.Context, client *api.Client, token string) (*api.Secret, error) {
	c, err := client.Clone()
	if err != nil {
		return nil, err
	}
	c.SetNamespace(client.Namespace())
	c.SetToken(token)
	out := &api.Secret{Auth: &api.SecretAuth{ClientToken: token}}
	s, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		switch classify(ctx, err).kind {
		case kindDenied:
			// Valid, but its policies do not allow lookup-self.
			return out, nil
		case kindInvalidToken:
			return nil, loginErrorf("Vault rejects the token (revoked, expired or unknown)")
		}
		return nil, err
	}
	if s != nil {
		ttl, _ := s.TokenTTL()
		renewable, _ := s.TokenIsRenewable()
		out.Auth.LeaseDuration = int(ttl / time.Second)
		out.Auth.Renewable = renewable
		out.Auth.Policies, _ = s.TokenPolicies()
	}
	return out, nil
}

// TokenFileAuth reads the token from a file: ~/.vault-token as the vault CLI
// writes it, or a Vault Agent sink file. The file is read again whenever its
// size or modification time changes, and whenever Vault rejects the token.
// The provider never renews a token read from a file: its owner (the CLI
// user, Vault Agent) does.
func TokenFileAuth(path string) Auth { return &tokenFileAuth{path: path} }

type tokenFileAuth struct {
	path string
	mu   sync.Mutex
	size int64
	mod  time.Time
}

func (a *tokenFileAuth) describe() string { return "token file " + a.path }
func (a *tokenFileAuth) external() bool   { return true }

func (a *tokenFileAuth) changed() bool {
	fi, err := os.Stat(a.path)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		return true
	}
	return fi.Size() != a.size || !fi.ModTime().Equal(a.mod)
}

// Login reads the token file. It does no request: Vault checks the token
// when it is used.
func (a *tokenFileAuth) Login(ctx context.Context, client *api.Client) (*api.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(a.path)
	if err != nil {
		return nil, loginErrorf("token file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, loginErrorf("token file: %v", err)
	}
	if fi.Size() > 64<<10 {
		return nil, loginErrorf("token file %s is larger than 64 KiB", a.path)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, loginErrorf("token file %s: read failed", a.path)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, loginErrorf("token file %s is empty", a.path)
	}
	a.mu.Lock()
	a.size, a.mod = fi.Size(), fi.ModTime()
	a.mu.Unlock()
	return &api.Secret{Auth: &api.SecretAuth{ClientToken: tok}}, nil
}

// AppRole configures [AppRoleAuth].
type AppRole struct {
	// RoleID is the role's role_id. Required.
	RoleID string
	// Exactly one of SecretID, SecretIDFile and SecretIDEnv gives the
	// secret_id. The file or variable is read at every login.
	SecretID     string
	SecretIDFile string
	SecretIDEnv  string
	// Wrapped means the secret id is a response-wrapping token that is
	// unwrapped at login. A wrapping token can be used once: after the
	// first login, put a fresh one in the file (as Vault Agent expects).
	Wrapped bool
	// Mount is the auth mount, default "approle".
	Mount string
}

// AppRoleAuth logs in with AppRole (auth/MOUNT/login with role_id and
// secret_id), unwrapping a response-wrapped secret id first when
// AppRole.Wrapped is set.
func AppRoleAuth(cfg AppRole) Auth { return appRoleAuth{cfg} }

type appRoleAuth struct{ cfg AppRole }

func (a appRoleAuth) describe() string { return "approle at auth/" + mountOr(a.cfg.Mount, "approle") }

func (a appRoleAuth) Login(ctx context.Context, client *api.Client) (*api.Secret, error) {
	return a.loginEnv(ctx, client, os.Getenv)
}

// maxSecretIDFile bounds what is read from AppRole.SecretIDFile.
const maxSecretIDFile = 4 << 10

func (a appRoleAuth) secretID(getenv func(string) string) (string, error) {
	n := 0
	for _, s := range []string{a.cfg.SecretID, a.cfg.SecretIDFile, a.cfg.SecretIDEnv} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return "", loginErrorf("approle: exactly one of SecretID, SecretIDFile and SecretIDEnv must be set")
	}
	var v string
	switch {
	case a.cfg.SecretIDFile != "":
		f, err := os.Open(a.cfg.SecretIDFile)
		if err != nil {
			return "", loginErrorf("approle: secret id file: %v", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretIDFile+1))
		if err != nil {
			return "", loginErrorf("approle: secret id file %s: read failed", a.cfg.SecretIDFile)
		}
		if len(b) > maxSecretIDFile {
			return "", loginErrorf("approle: secret id file %s is larger than %d bytes", a.cfg.SecretIDFile, maxSecretIDFile)
		}
		v = string(b)
		if strings.TrimSpace(v) == "" {
			return "", loginErrorf("approle: secret id file %s is empty", a.cfg.SecretIDFile)
		}
	case a.cfg.SecretIDEnv != "":
		v = getenv(a.cfg.SecretIDEnv)
		if strings.TrimSpace(v) == "" {
			return "", loginErrorf("approle: %s is empty", a.cfg.SecretIDEnv)
		}
	default:
		v = a.cfg.SecretID
	}
	return strings.TrimSpace(v), nil
}

func (a appRoleAuth) loginEnv(ctx context.Context, client *api.Client, getenv func(string) string) (*api.Secret, error) {
	if a.cfg.RoleID == "" {
		return nil, loginErrorf("approle: RoleID is empty")
	}
	sid, err := a.secretID(getenv)
	if err != nil {
		return nil, err
	}
	if a.cfg.Wrapped {
		// client carries no token: the wrapping token is sent as the
		// request's token, as the vault CLI does.
		u, err := client.Logical().UnwrapWithContext(ctx, sid)
		if err != nil {
			return nil, err
		}
		if u == nil || u.Data == nil {
			return nil, loginErrorf("approle: unwrapping the secret id returned nothing (a used or expired wrapping token?)")
		}
		s, ok := u.Data["secret_id"].(string)
		if !ok || s == "" {
			return nil, loginErrorf("approle: the wrapped response holds no secret_id")
		}
		sid = s
		client.ClearToken()
	}
	return client.Logical().WriteWithContext(ctx, "auth/"+mountOr(a.cfg.Mount, "approle")+"/login",
		map[string]any{"role_id": a.cfg.RoleID, "secret_id": sid})
}

// DefaultServiceAccountTokenPath is where Kubernetes mounts a pod's
// service-account token.
const DefaultServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Kubernetes configures [KubernetesAuth].
type Kubernetes struct {
	// Role is the Vault role to log in as. Required.
	Role string
	// TokenPath is the service-account token file, read at every login
	// because projected tokens rotate. Default
	// [DefaultServiceAccountTokenPath].
	TokenPath string
	// Mount is the auth mount, default "kubernetes". A JWT auth mount that
	// trusts the cluster's issuer takes the same login request.
	Mount string
}

// KubernetesAuth logs in with the Kubernetes auth method, through
// github.com/hashicorp/vault/api/auth/kubernetes.
func KubernetesAuth(cfg Kubernetes) Auth { return kubernetesAuth{cfg} }

type kubernetesAuth struct{ cfg Kubernetes }

func (a kubernetesAuth) describe() string {
	return "kubernetes at auth/" + mountOr(a.cfg.Mount, "kubernetes")
}

func (a kubernetesAuth) Login(ctx context.Context, client *api.Client) (*api.Secret, error) {
	if a.cfg.Role == "" {
		return nil, loginErrorf("kubernetes: Role is empty")
	}
	path := a.cfg.TokenPath
	if path == "" {
		path = DefaultServiceAccountTokenPath
	}
	// Read at every login: kubernetes.WithServiceAccountTokenPath reads once.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, loginErrorf("kubernetes: service-account token: %v", err)
	}
	jwt := strings.TrimSpace(string(b))
	if jwt == "" {
		return nil, loginErrorf("kubernetes: service-account token file %s is empty", path)
	}
	m, err := kubernetes.NewKubernetesAuth(a.cfg.Role,
		kubernetes.WithServiceAccountToken(jwt),
		kubernetes.WithMountPath(mountOr(a.cfg.Mount, "kubernetes")))
	if err != nil {
		return nil, loginErrorf("kubernetes: invalid configuration")
	}
	return m.Login(ctx, client)
}

func mountOr(m, def string) string {
	if m = strings.Trim(m, "/"); m != "" {
		return m
	}
	return def
}
