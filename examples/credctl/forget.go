package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/vault"
)

// runForget removes one user's own credential of a per-subject profile
// (the operator's revocation of what the user enrolled): the profiles
// file's source with {sub} replaced by the subject, as the server reads it
// (profile.Provider.StoreFor), deleted with every version. A running
// server stops serving it within its credential TTL.
func runForget(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credctl forget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("profile", provider.DefaultProfile, "the per-subject profile of the profiles file ("+profile.EnvProfilesPath+")")
	subject := fs.String("subject", "", "the user's subject (the sub claim of their tokens)")
	issuer := fs.String("issuer", "", "the issuer of the user's tokens (the profile's allow issuer)")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline for the whole command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *subject == "" || *issuer == "" {
		fmt.Fprintln(stderr, "credctl forget: want --profile P --subject SUB --issuer URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var schemes provider.Schemes // the stores a per-user profile can write
	schemes.Register("vault", vault.Scheme(func(o *vault.Options) { o.Getenv = getenv }))
	schemes.Register("keychain", keychain.Scheme())
	schemes.Register("encfile", encfile.Scheme(func(o *encfile.Options) { o.Getenv = getenv }))
	profiles, err := profile.New(&schemes, func(o *profile.Options) { o.Getenv = getenv })
	if err != nil {
		fmt.Fprintln(stderr, "credctl forget:", err)
		return 1
	}
	caller := &provider.Caller{Issuer: *issuer, Subject: *subject}
	st, ref, err := profiles.StoreFor(caller, *name)
	if err != nil {
		fmt.Fprintln(stderr, "credctl forget:", err)
		return 1
	}
	if err := st.Delete(ctx, provider.DefaultProfile); err != nil {
		fmt.Fprintln(stderr, "credctl forget:", err)
		return 1
	}
	// The reference holds the encoded subject, never a value.
	fmt.Fprintf(stdout, "removed the credential of subject %s, profile %s (%s); servers stop serving it within their credential TTL\n",
		provider.Describe(*subject), provider.Label(*name), ref.Scheme+": "+profile.EncodeSubject(*subject))
	return 0
}
