package awscred

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Signer is a SigV4 signer for aws-sdk-go-v2 service clients that never
// signs with a key derived from another credential's secret.
//
// The SDK's default signer (one per client, made by v4.NewSigner) caches
// the key it derives from a secret per region and service, and reuses it
// for any credential with the same access key ID on the same day without
// comparing the secret. An access key ID is not a secret: with one client
// shared by calls that sign with different credentials (per-request
// credentials, a rotated secret, a credential re-read after AWS rejected
// it), a call that passes a known access key ID with a wrong secret is
// signed with the secret of an earlier call and accepted, and a call with a
// new secret for the same key is signed with the old one and rejected.
//
// Signer signs every request with a new v4.Signer, whose cache sees one
// credential only: it derives the key from the secret it is given, at the
// cost of four HMAC-SHA256 per request. The signatures are otherwise the
// SDK's own. The zero Signer is ready to use and safe for concurrent use.
//
// Install it with [WithSigner], or set it directly:
//
//	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.HTTPSignerV4 = awscred.NewSigner() })
type Signer struct {
	optFns []func(*v4.SignerOptions)
}

// NewSigner returns a [Signer] that applies optFns to the v4.SignerOptions
// of every request it signs, before the per-request options the SDK passes.
func NewSigner(optFns ...func(*v4.SignerOptions)) *Signer {
	return &Signer{optFns: slices.Clone(optFns)}
}

// SignHTTP signs r as v4.Signer.SignHTTP does, with a signer that has
// derived no key before. It implements every service package's
// HTTPSignerV4 interface.
func (s *Signer) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) error {
	return v4.NewSigner(s.options()...).SignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

// PresignHTTP presigns r as v4.Signer.PresignHTTP does, with a signer that
// has derived no key before. It implements every service package's
// HTTPPresignerV4 interface, for presign clients.
func (s *Signer) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return v4.NewSigner(s.options()...).PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

func (s *Signer) options() []func(*v4.SignerOptions) {
	if s == nil {
		return nil
	}
	return s.optFns
}

var _ v4.HTTPSigner = (*Signer)(nil)

// WithSigner is an option for any aws-sdk-go-v2 service client, and for its
// presign client, that installs a [Signer] in place of the SDK's default
// signer. Pass the function itself, without calling it; Go infers O from
// the constructor or operation it is passed to:
//
//	client := ec2.NewFromConfig(cfg, awscred.WithSigner)
//	presign := ec2.NewPresignClient(client, awscred.WithSigner)
//
// Where Go cannot infer O, as in append, name it:
// awscred.WithSigner[ec2.Options].
//
// It sets O's HTTPSignerV4 field (Options of every service client) and its
// Presigner field (PresignOptions), whichever O has. It panics if O has
// neither, which is a programming error that shows at the first call.
func WithSigner[O any](o *O) {
	v := reflect.ValueOf(o).Elem()
	set := false
	if v.Kind() == reflect.Struct {
		sig := reflect.ValueOf(&Signer{})
		// The fields that hold a SigV4 signer: Options.HTTPSignerV4 of
		// every client, PresignOptions.Presigner of presign clients.
		for _, name := range [...]string{"HTTPSignerV4", "Presigner"} {
			f := v.FieldByName(name)
			if f.IsValid() && f.CanSet() && f.Kind() == reflect.Interface && sig.Type().Implements(f.Type()) {
				f.Set(sig)
				set = true
			}
		}
	}
	if !set {
		panic(fmt.Sprintf("awscred: WithSigner: %T is not the options of an aws-sdk-go-v2 client: it has no HTTPSignerV4 or Presigner field", o))
	}
}
