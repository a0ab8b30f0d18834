package testop_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/internal/testop"
)

const resource = "http://127.0.0.1:9/mcp"

var (
	alice = testop.User{Subject: "sub-alice", Username: "alice", Password: "pw-alice-123", Groups: []string{"sre", "dev"}}
	bob   = testop.User{Subject: "sub-bob", Username: "bob", Password: "pw-bob-456"}
)

// fixture is an OP with alice and bob, a relying party's callback and an
// oauth2.Config for its web client.
type fixture struct {
	op       *testop.OP
	provider *oidc.Provider
	conf     *oauth2.Config
	callback string
	rpHits   atomic.Int64
}

func newFixture(t *testing.T, c testop.WebClient) *fixture {
	t.Helper()
	f := &fixture{}
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.rpHits.Add(1)
		io.WriteString(w, "relying party")
	}))
	t.Cleanup(rp.Close)
	f.callback = rp.URL + "/callback"
	o, err := testop.Start(resource)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	f.op = o
	for _, u := range []testop.User{alice, bob} {
		if err := o.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	if c.ID == "" {
		c.ID = "web"
		c.Secret = "web-secret"
	}
	c.RedirectURIs = append(c.RedirectURIs, f.callback)
	if err := o.AddWebClient(c); err != nil {
		t.Fatal(err)
	}
	if f.provider, err = oidc.NewProvider(context.Background(), o.Issuer); err != nil {
		t.Fatal(err)
	}
	f.conf = &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		Endpoint:     f.provider.Endpoint(),
		RedirectURL:  f.callback,
		Scopes:       []string{oidc.ScopeOpenID, "profile"},
	}
	return f
}

func random(t testing.TB) string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// grant is a signed-in authorization request: its code and what the
// client keeps.
type grant struct{ code, verifier, nonce string }

// authorize signs user in with the test browser and returns the code the
// client's callback got.
func (f *fixture) authorize(t *testing.T, u testop.User) grant {
	t.Helper()
	g := grant{verifier: oauth2.GenerateVerifier(), nonce: random(t)}
	state := random(t)
	start := f.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(g.verifier), oidc.Nonce(g.nonce))
	resp, err := testop.SignIn(context.Background(), testop.Browser(), start, u.Username, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	q := resp.Request.URL.Query()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/callback" || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("sign-in ended at %s %s with %v", resp.Status, resp.Request.URL.Path, q)
	}
	g.code = q.Get("code")
	return g
}

func (f *fixture) exchange(t *testing.T, g grant) *oauth2.Token {
	t.Helper()
	tok, err := f.conf.Exchange(context.Background(), g.code, oauth2.VerifierOption(g.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// userinfo asks the userinfo endpoint with an access token and returns
// the status and the subject it answered.
func (f *fixture) userinfo(t *testing.T, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.op.Issuer+"/userinfo", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Subject string `json:"sub"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &info); err != nil {
			t.Fatal(err)
		}
	} else if resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(body), token) && token != "" {
		t.Errorf("refusal %s without a challenge or echoing the token: %q", resp.Status, body)
	}
	return resp.StatusCode, info.Subject
}

func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return fmt.Sprintf("not a token endpoint error: %v", err)
}

type claims struct {
	Audience          any      `json:"aud"`
	Subject           string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	Scope             string   `json:"scope"`
	ClientID          string   `json:"client_id"`
}

func TestAuthorizationCodeFlow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testop.WebClient{})
			f.conf.Endpoint.AuthStyle = tc.style
			ctx := context.Background()
			g := f.authorize(t, alice)
			tok := f.exchange(t, g)

			raw, _ := tok.Extra("id_token").(string)
			id, err := f.provider.Verifier(&oidc.Config{ClientID: f.conf.ClientID}).Verify(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var idc claims
			if err := id.Claims(&idc); err != nil {
				t.Fatal(err)
			}
			if id.Nonce != g.nonce || id.Subject != alice.Subject || idc.PreferredUsername != alice.Username || !slices.Equal(idc.Groups, alice.Groups) {
				t.Errorf("ID token: nonce %v, subject %q, claims %+v", id.Nonce == g.nonce, id.Subject, idc)
			}

			// The access token is a JWT for the resource, not for the client.
			at, err := f.provider.Verifier(&oidc.Config{ClientID: resource}).Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			var atc claims
			at.Claims(&atc)
			if !slices.Equal(at.Audience, []string{resource}) || at.Subject != alice.Subject || atc.ClientID != f.conf.ClientID || !slices.Equal(atc.Groups, alice.Groups) {
				t.Errorf("access token: audience %v, subject %q, claims %+v", at.Audience, at.Subject, atc)
			}
			if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("token response: refresh token %v, type %q, expiry %v", tok.RefreshToken != "", tok.TokenType, tok.Expiry)
			}

			info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Subject != alice.Subject {
				t.Errorf("userinfo: %v, %+v", err, info)
			}
			if f.op.LoginCount() != 1 || f.op.UserinfoCount() != 1 || f.op.RefreshCount() != 0 {
				t.Errorf("counters: logins %d, userinfo %d, refreshes %d", f.op.LoginCount(), f.op.UserinfoCount(), f.op.RefreshCount())
			}

			// The same client with a wrong secret is refused, in either style.
			bad := *f.conf
			bad.ClientSecret = "wrong"
			g = f.authorize(t, alice)
			if _, err := bad.Exchange(ctx, g.code, oauth2.VerifierOption(g.verifier)); errorCode(err) != "invalid_client" {
				t.Errorf("wrong secret: %v", err)
			}
			// A failed exchange does not spend the code.
			f.exchange(t, g)
		})
	}
}

func TestAudience(t *testing.T) {
	f := newFixture(t, testop.WebClient{ID: "api", Secret: "api-secret", Audience: []string{"https://api.example", "https://other.example"}})
	tok := f.exchange(t, f.authorize(t, bob))
	at, err := f.provider.Verifier(&oidc.Config{ClientID: "https://api.example"}).Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(at.Audience, []string{"https://api.example", "https://other.example"}) || at.Subject != bob.Subject {
		t.Errorf("access token audience %v subject %q", at.Audience, at.Subject)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := f.provider.Verifier(&oidc.Config{ClientID: "api"}).Verify(context.Background(), raw)
	if err != nil || !slices.Contains(id.Audience, "api") {
		t.Errorf("ID token: %v %v", err, id)
	}
}

var hiddenID = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

func TestWrongPasswordRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", alice.Username, "pw-wrong-789"},
		{"another user's password", alice.Username, bob.Password},
		{"unknown user", "mallory-unknown", alice.Password},
		{"empty password", alice.Username, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testop.WebClient{})
			browser := testop.Browser()
			start := f.conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			resp, err := testop.SignIn(ctx, browser, start, tc.username, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Request.URL.Path != "/login" {
				t.Fatalf("ended at %s %s", resp.Status, resp.Request.URL)
			}
			for _, secret := range []string{tc.username, tc.password} {
				if secret != "" && strings.Contains(string(body), secret) {
					t.Errorf("login page echoes what was typed: %s", body)
				}
			}
			if f.rpHits.Load() != 0 || f.op.LoginCount() != 0 {
				t.Errorf("relying party reached %d times, %d logins", f.rpHits.Load(), f.op.LoginCount())
			}
			// The page is the form again, for the same request: the right
			// password then signs in.
			m := hiddenID.FindSubmatch(body)
			if m == nil {
				t.Fatalf("no form in %s", body)
			}
			form := url.Values{"authRequestID": {string(m[1])}, "username": {bob.Username}, "password": {bob.Password}}
			resp, err = browser.PostForm(f.op.Issuer+"/login", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/callback" || resp.Request.URL.Query().Get("code") == "" {
				t.Errorf("retry ended at %s %s", resp.Status, resp.Request.URL.Path)
			}
		})
	}
}

func TestLoginPage(t *testing.T) {
	f := newFixture(t, testop.WebClient{})
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(f.op.Issuer + "/login"); code != http.StatusBadRequest || strings.Contains(body, "<form") {
		t.Errorf("without request: %d %s", code, body)
	}
	if code, body := get(f.op.Issuer + "/login?authRequestID=%3Cscript%3Eunknown-id"); code != http.StatusBadRequest || strings.Contains(body, "unknown-id") || strings.Contains(body, "<script") {
		t.Errorf("unknown request: %d %s", code, body)
	}
	resp, err := http.Post(f.op.Issuer+"/login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("JSON post: %s", resp.Status)
	}

	// A request a user signed in to cannot be bound to another user before
	// its code is used.
	noFollow := testop.Browser()
	noFollow.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/login" {
			return nil
		}
		return http.ErrUseLastResponse
	}
	v := oauth2.GenerateVerifier()
	resp, err = noFollow.Get(f.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	post := func(u testop.User) *http.Response {
		resp, err := noFollow.PostForm(f.op.Issuer+"/login", url.Values{"authRequestID": {id}, "username": {u.Username}, "password": {u.Password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := post(alice)
	if first.StatusCode != http.StatusSeeOther || first.Header.Get("Cache-Control") != "no-store" || first.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("sign-in: %s %v", first.Status, first.Header)
	}
	if again := post(bob); again.StatusCode != http.StatusBadRequest {
		t.Errorf("second sign-in to the same request: %s", again.Status)
	}
	resp, err = testop.Browser().Get(first.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := f.exchange(t, grant{code: resp.Request.URL.Query().Get("code"), verifier: v})
	if _, sub := f.userinfo(t, tok.AccessToken); sub != alice.Subject {
		t.Errorf("signed in as %q", sub)
	}
}

func TestPKCE(t *testing.T) {
	f := newFixture(t, testop.WebClient{})
	ctx := context.Background()

	t.Run("wrong verifier", func(t *testing.T) {
		g := f.authorize(t, alice)
		_, err := f.conf.Exchange(ctx, g.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if errorCode(err) != "invalid_grant" {
			t.Errorf("exchange: %v", err)
		}
		// A failed attempt does not spend the code.
		f.exchange(t, g)
	})
	t.Run("no verifier", func(t *testing.T) {
		g := f.authorize(t, alice)
		if _, err := f.conf.Exchange(ctx, g.code); errorCode(err) != "invalid_request" {
			t.Errorf("exchange: %v", err)
		}
	})
	// An authorization request without an S256 challenge goes back to the
	// client with invalid_request, before any login page.
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"no challenge": nil,
		"plain":        {oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
		"unknown":      {oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "S512")},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := testop.Browser().Get(f.conf.AuthCodeURL("st", opts...))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if q := resp.Request.URL.Query(); resp.Request.URL.Path != "/callback" || q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Errorf("ended at %s %v", resp.Request.URL.Path, q)
			}
		})
	}
	if f.op.LoginCount() != 2 {
		t.Errorf("%d logins", f.op.LoginCount())
	}
}

func TestCodeReuseRefused(t *testing.T) {
	f := newFixture(t, testop.WebClient{})
	g := f.authorize(t, alice)
	tok := f.exchange(t, g)
	if _, err := f.conf.Exchange(context.Background(), g.code, oauth2.VerifierOption(g.verifier)); errorCode(err) != "invalid_grant" {
		t.Errorf("second exchange: %v", err)
	}
	// Concurrent exchanges of one code: exactly one gets tokens.
	g = f.authorize(t, bob)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.conf.Exchange(context.Background(), g.code, oauth2.VerifierOption(g.verifier)); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d concurrent exchanges of one code succeeded", ok.Load())
	}
	if code, _ := f.userinfo(t, tok.AccessToken); code != http.StatusOK {
		t.Errorf("first token refused after the reuse: %d", code)
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t, testop.WebClient{})
	ctx := context.Background()
	other := &oauth2.Config{ClientID: "other", ClientSecret: "other-secret", Endpoint: f.conf.Endpoint}
	if err := f.op.AddWebClient(testop.WebClient{ID: "other", Secret: "other-secret", RedirectURIs: []string{f.callback}}); err != nil {
		t.Fatal(err)
	}
	refresh := func(c *oauth2.Config, rt string) (*oauth2.Token, error) {
		return c.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}

	tok := f.exchange(t, f.authorize(t, alice))
	next, err := refresh(f.conf, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	raw, _ := next.Extra("id_token").(string)
	if id, err := f.provider.Verifier(&oidc.Config{ClientID: f.conf.ClientID}).Verify(ctx, raw); err != nil || id.Subject != alice.Subject {
		t.Errorf("ID token of the refresh: %v", err)
	}
	if _, err := refresh(f.conf, tok.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Errorf("old refresh token: %v", err)
	}
	// Another client cannot use it, and its failed attempt does not spend it.
	if _, err := refresh(other, next.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Errorf("refresh token of another client: %v", err)
	}
	third, err := refresh(f.conf, next.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if f.op.RefreshCount() != 2 {
		t.Errorf("RefreshCount %d", f.op.RefreshCount())
	}
	// Access tokens issued before a rotation stay valid until they expire.
	for _, at := range []string{tok.AccessToken, next.AccessToken, third.AccessToken} {
		if code, sub := f.userinfo(t, at); code != http.StatusOK || sub != alice.Subject {
			t.Errorf("userinfo: %d %q", code, sub)
		}
	}

	// Replicas racing with one refresh token: exactly one wins, the others
	// get invalid_grant.
	var wins atomic.Int64
	codes := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := refresh(f.conf, third.RefreshToken); err == nil {
				wins.Add(1)
			} else {
				codes <- errorCode(err)
			}
		}()
	}
	wg.Wait()
	close(codes)
	if wins.Load() != 1 {
		t.Errorf("%d concurrent refreshes won", wins.Load())
	}
	for c := range codes {
		if c != "invalid_grant" {
			t.Errorf("losing refresh: %s", c)
		}
	}

	// Revoke drops the grant: the refresh token and the access tokens.
	fresh := f.exchange(t, f.authorize(t, alice))
	if n := f.op.Revoke(alice.Subject); n == 0 {
		t.Error("Revoke dropped nothing")
	}
	if _, err := refresh(f.conf, fresh.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Errorf("revoked refresh token: %v", err)
	}
	if code, _ := f.userinfo(t, fresh.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("revoked access token: %d", code)
	}
}

func TestTokenSourceRefreshesExpiredToken(t *testing.T) {
	f := newFixture(t, testop.WebClient{AccessTokenLifetime: 2 * time.Second})
	ctx := context.Background()
	tok := f.exchange(t, f.authorize(t, alice))
	// Reuse the token until it expires (no early expiry), then refresh.
	ts := oauth2.ReuseTokenSourceWithExpiry(tok, f.conf.TokenSource(ctx, tok), time.Nanosecond)
	var next *oauth2.Token
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		got, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != tok.AccessToken {
			next = got
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token source never refreshed")
		}
	}
	// (wall clocks, as x/oauth2 compares them)
	if time.Now().Round(0).Before(tok.Expiry.Round(0).Add(-time.Nanosecond)) || next.RefreshToken == tok.RefreshToken || f.op.RefreshCount() < 1 {
		t.Errorf("refreshed before expiry %v, rotated %v, %d refreshes", time.Now().Before(tok.Expiry), next.RefreshToken != tok.RefreshToken, f.op.RefreshCount())
	}
	// The expired token is refused; the source's current one is answered
	// (retried: each lives only 2s).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := f.userinfo(t, tok.AccessToken); code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired token still answered")
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		info, err := f.provider.UserInfo(ctx, ts)
		if err == nil {
			if info.Subject != alice.Subject {
				t.Errorf("subject %q", info.Subject)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("userinfo with the refreshed token: %v", err)
		}
	}
}

func TestUserinfo(t *testing.T) {
	f := newFixture(t, testop.WebClient{})
	ctx := context.Background()
	f.op.AddClient(testop.Client{ID: "cli", Secret: "cli-secret", Subject: "sub-carol", Groups: []string{"ops"}})
	f.op.AddClient(testop.Client{ID: "cli-old", Secret: "cli-secret", Subject: "sub-carol", Lifetime: -time.Minute})
	cc, err := f.op.Token(ctx, "cli", "cli-secret")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := f.op.Token(ctx, "cli-old", "cli-secret")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := testop.Start(resource, testop.Client{ID: "cli", Secret: "cli-secret", Subject: "sub-carol"})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	forged, err := rogue.Token(ctx, "cli", "cli-secret")
	if err != nil {
		t.Fatal(err)
	}
	web := f.exchange(t, f.authorize(t, bob))

	for _, tc := range []struct {
		name, token string
		status      int
		subject     string
	}{
		{"client credentials", cc, http.StatusOK, "sub-carol"},
		{"web client", web.AccessToken, http.StatusOK, bob.Subject},
		{"missing", "", http.StatusUnauthorized, ""},
		{"garbage", "not-a-token", http.StatusUnauthorized, ""},
		{"refresh token", web.RefreshToken, http.StatusUnauthorized, ""},
		{"ID token", web.Extra("id_token").(string), http.StatusUnauthorized, ""},
		{"expired", expired, http.StatusUnauthorized, ""},
		{"another OP's", forged, http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, sub := f.userinfo(t, tc.token); code != tc.status || sub != tc.subject {
				t.Errorf("userinfo: %d %q, want %d %q", code, sub, tc.status, tc.subject)
			}
		})
	}
	if f.op.UserinfoCount() != 2 {
		t.Errorf("UserinfoCount %d", f.op.UserinfoCount())
	}
}

func TestPublicClient(t *testing.T) {
	f := newFixture(t, testop.WebClient{ID: "native"})
	tok := f.exchange(t, f.authorize(t, alice))
	if _, err := f.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatal(err)
	}
}

func TestClientCredentials(t *testing.T) {
	o, err := testop.Start(resource, testop.Client{ID: "cli", Secret: "s", Subject: "sub-alice", Groups: []string{"sre"}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	tok, err := o.Token(ctx, "cli", "s", "tools")
	if err != nil {
		t.Fatal(err)
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	at, err := p.Verifier(&oidc.Config{ClientID: resource}).Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	at.Claims(&c)
	if at.Subject != "sub-alice" || c.Scope != "tools" || !slices.Equal(c.Groups, []string{"sre"}) {
		t.Errorf("claims %+v", c)
	}
	if _, err := o.Token(ctx, "cli", "wrong"); err == nil {
		t.Error("wrong secret accepted")
	}
}

func TestAddRefusals(t *testing.T) {
	o, err := testop.Start(resource)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.AddUser(alice); err != nil {
		t.Fatal(err)
	}
	for _, u := range []testop.User{
		{Username: "x", Password: "y"},
		{Subject: "x", Password: "y"},
		{Subject: "x", Username: "y"},
		{Subject: "other", Username: alice.Username, Password: "p"},
	} {
		if err := o.AddUser(u); err == nil {
			t.Errorf("AddUser(%+v) accepted", u)
		}
	}
	// The same subject may change its username and password.
	if err := o.AddUser(testop.User{Subject: alice.Subject, Username: "alice2", Password: "p2"}); err != nil {
		t.Error(err)
	}
	for _, c := range []testop.WebClient{
		{RedirectURIs: []string{"https://rp.example/cb"}},
		{ID: "x"},
		{ID: "x", RedirectURIs: []string{"/relative"}},
		{ID: "x", RedirectURIs: []string{"https://rp.example/cb#frag"}},
		{ID: "x", RedirectURIs: []string{"ftp://rp.example/cb"}},
		{ID: "x", RedirectURIs: []string{"https://user:pw@rp.example/cb"}},
		{ID: "x", RedirectURIs: []string{"https://rp.example/cb"}, AccessTokenLifetime: time.Second},
		{ID: "x", RedirectURIs: []string{"https://rp.example/cb"}, AccessTokenLifetime: -time.Minute},
	} {
		if err := o.AddWebClient(c); err == nil {
			t.Errorf("AddWebClient(%+v) accepted", c)
		}
	}
}
