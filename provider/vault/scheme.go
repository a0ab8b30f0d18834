package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
// The Target's one resource is the secret's path as written, without a
// version or field: vault:secret/data/mcp/aws, so an operator allows
// vault:secret/data/mcp/* for the secrets directly under mcp, or
// vault:secret/data/mcp/** for every depth. Write KV v2 references as the
// API path (MOUNT/data/PATH), as patterns see them as written.
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

func (s *scheme) Open(ref provider.Ref) (provider.Target, error) {
	if err := ref.OnlyParams("version"); err != nil {
		return provider.Target{}, err
	}
	if strings.Contains(ref.Body, "*") {
		return provider.Target{}, provider.InvalidRef(ref, "body", `holds "*": references name one secret, patterns are the operator's`)
	}
	r, err := ParseRef(ref.String())
	if err != nil {
		var reason string
		if e := errors.Unwrap(err); e != nil {
			reason = strings.TrimPrefix(err.Error(), ErrInvalidRef.Error()+": ")
		}
		return provider.Target{}, provider.InvalidRef(ref, "", reason)
	}
	p, err := s.provider()
	if err != nil {
		return provider.Target{}, err
	}
	return provider.Target{
		Provider:  &refProvider{p: p, ref: r},
		Resources: []provider.Resource{{Scheme: "vault", Path: r.fullPath()}},
	}, nil
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

// Put stores c where the reference points, whatever the profile (see
// [Provider.PutRef]).
func (r *refProvider) Put(ctx context.Context, _ string, c provider.Credentials) error {
	return r.p.PutRef(ctx, r.ref, c)
}

// Delete deletes the secret the reference names with all its versions
// (see [Provider.DeleteRef]).
func (r *refProvider) Delete(ctx context.Context, _ string) error {
	return r.p.DeleteRef(ctx, r.ref)
}

// CompareAndSwap is [Provider.CompareAndSwapRef] for the reference.
func (r *refProvider) CompareAndSwap(ctx context.Context, _ string, old, next provider.Credentials) error {
	return r.p.CompareAndSwapRef(ctx, r.ref, old, next)
}
