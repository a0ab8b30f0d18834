package vault

import (
	"context"
	"fmt"
	"sync"

	"github.com/mcpcred/mcpcred/provider"
)

// Scheme returns the [provider.Scheme] for "vault:" references, to register
// in a [provider.Schemes]:
//
//	s.Register("vault", vault.Scheme())
//
// The forms are those of [ParseRef]:
//
//	vault:secret/data/mcp/aws                 every key of the secret
//	vault:secret/data/mcp/aws#access_key_id   one key of it
//	vault:secret/data/mcp/aws?version=3       a KV v2 version
//	vault:aws/creds/deploy                    a dynamic (leased) secret
//
// optFns configure the one [Provider] that every reference shares, so all
// references use one client, one login and one token renewal. Its Close is
// never called: a Scheme lives as long as the program.
func Scheme(optFns ...func(*Options)) provider.Scheme {
	return &scheme{optFns: optFns}
}

type scheme struct {
	optFns []func(*Options)
	mu     sync.Mutex
	p      *Provider
}

func (s *scheme) Provider(ref provider.Ref) (provider.Provider, error) {
	r, err := ParseRef(ref.String())
	if err != nil {
		return nil, fmt.Errorf("%w: vault: %w", provider.ErrInvalidRef, err)
	}
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	return &refProvider{p: p, ref: r}, nil
}

// provider builds the shared Provider on first use. A failure (say an
// unreadable VAULT_CACERT) is not kept: the next reference tries again.
func (s *scheme) provider() (*Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		p, err := New(s.optFns...)
		if err != nil {
			return nil, err
		}
		s.p = p
	}
	return s.p, nil
}

// refProvider answers every profile with the secret its reference names.
type refProvider struct {
	p   *Provider
	ref Ref
}

func (r *refProvider) Name() string { return Name }

func (r *refProvider) Retrieve(ctx context.Context, profile string) (provider.Credentials, error) {
	return r.p.RetrieveRef(ctx, r.ref)
}

func (r *refProvider) String() string { return fmt.Sprintf("vault provider for %s", r.ref) }
