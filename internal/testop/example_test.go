package testop_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/internal/testop"
)

// A relying party signs a user in with the authorization code flow and
// PKCE; the test browser posts the OP's login form.
func ExampleSignIn() {
	ctx := context.Background()
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer rp.Close()

	op, err := testop.Start("http://127.0.0.1:8080/mcp")
	if err != nil {
		panic(err)
	}
	defer op.Close()
	op.AddUser(testop.User{Subject: "sub-alice", Username: "alice", Password: "pw"})
	op.AddWebClient(testop.WebClient{ID: "app", Secret: "s", RedirectURIs: []string{rp.URL + "/callback"}})

	provider, err := oidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		panic(err)
	}
	conf := &oauth2.Config{ClientID: "app", ClientSecret: "s", Endpoint: provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{oidc.ScopeOpenID}}
	verifier := oauth2.GenerateVerifier()
	start := conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce"))

	resp, err := testop.SignIn(ctx, testop.Browser(), start, "alice", "pw")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	tok, err := conf.Exchange(ctx, resp.Request.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		panic(err)
	}
	id, err := provider.Verifier(&oidc.Config{ClientID: "app"}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		panic(err)
	}
	fmt.Println(id.Subject, id.Nonce, tok.RefreshToken != "")
	// Output: sub-alice nonce true
}
