package enroll

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

type lockedWriter struct{ ev *env }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.ev.logMu.Lock()
	defer w.ev.logMu.Unlock()
	return w.ev.logs.Write(p)
}

func newTestLogger(ev *env) *slog.Logger { return slog.New(slog.NewTextHandler(lockedWriter{ev}, nil)) }

const aliceToken = "alice-api-token-Zq9xV3mP7wK2"

// session connects an MCP client to a server over in-memory transports
// and returns the server's session and the elicitation ids the client is
// told are complete.
func mcpSession(t *testing.T) (*mcp.ServerSession, *mcp.ClientSession, chan string) {
	t.Helper()
	ctx := context.Background()
	srv := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "1"}, nil)
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	require.NoError(t, err)
	done := make(chan string, 8)
	cl := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
		ElicitationCompleteHandler: func(_ context.Context, r *mcp.ElicitationCompleteNotificationRequest) { done <- r.Params.ElicitationID },
	})
	cs, err := cl.Connect(ctx, ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	return ss, cs, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	assert.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, h.Get("Content-Security-Policy"), "form-action 'self'")
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
}

// TestPasteFlow: the whole paste flow against a real OpenID provider: the
// elicitation's link, sign-in as the ticket's user, the form, the stored
// credential in the caller's own place, the completion notice on the
// session, and nothing of the value or subject on any page or log.
func TestPasteFlow(t *testing.T) {
	ev := newEnv(t)
	ss, _, done := mcpSession(t)
	p, ok, err := ev.e.Enroll(context.Background(), ss, alice(ev.op.Issuer), "mine")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "url", p.Mode)
	assert.True(t, strings.HasPrefix(p.URL, ev.base+"/start?t="))
	assert.Len(t, p.ElicitationID, 32)
	assert.NotContains(t, p.Message, "alice")
	assert.Equal(t, 1, ev.e.watch.pending())

	b, status, page := ev.signIn(p.URL, "alice", alicePass)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, `type="password"`)
	assert.Contains(t, page, "Example API")
	assert.NotContains(t, page, "alice")
	assert.NotContains(t, page, "<script")

	status, page, resp := ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {aliceToken}})
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "Saved. Return to your app.")
	assertSecurityHeaders(t, resp.Header)
	assert.Equal(t, aliceToken, ev.store.get("users/sub-alice/mine").Value("token"))
	assert.Equal(t, []string{"token"}, ev.store.get("users/sub-alice/mine").Names())

	select {
	case id := <-done:
		assert.Equal(t, p.ElicitationID, id)
	case <-time.After(20 * time.Second):
		t.Fatal("no elicitation/complete notice")
	}
	waitFor(t, "the watcher to end", func() bool { return ev.e.watch.pending() == 0 })

	// Through the profile, alice reads it; bob does not.
	ctx := provider.ContextWithCaller(context.Background(), alice(ev.op.Issuer))
	got, err := ev.pp.Retrieve(ctx, "mine")
	require.NoError(t, err)
	assert.Equal(t, aliceToken, got.Value("token"))
	_, err = ev.pp.Retrieve(provider.ContextWithCaller(context.Background(), &provider.Caller{Issuer: ev.op.Issuer, Subject: "bob"}), "mine")
	require.Error(t, err)

	logs := ev.logText()
	assert.Contains(t, logs, "outcome=stored")
	assert.NotContains(t, logs, aliceToken)
	assert.NotContains(t, logs, p.URL[strings.Index(p.URL, "t=")+2:])

	// The session cookie is gone: the form is not served again.
	status, _, _ = ev.get(b, ev.base+"/")
	assert.Equal(t, http.StatusBadRequest, status)
}

// TestReplay: a link used once stores nothing the second time (409),
// whether the browser signs in again or replays the old session cookie.
func TestReplay(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	b, status, page := ev.signIn(link, "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	u, _ := url.Parse(ev.base + "/")
	cookies := b.Jar.Cookies(u)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	require.Equal(t, http.StatusOK, status)

	// The same cookie and csrf, replayed.
	b.Jar.SetCookies(u, cookies)
	status, page, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {"replayed-token-value-0000"}})
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, page, "already used")

	// The same link, signed in again.
	b2, status, page := ev.signIn(link, "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ev.post(b2, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {"second-token-value-0000"}})
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, aliceToken, ev.store.get("users/sub-alice/mine").Value("token"))
}

// TestOtherUser: alice's link signed in as bob stores nothing (403), and
// the page names neither.
func TestOtherUser(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	_, status, page := ev.signIn(link, "bob", bobPass)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, page, "another user")
	assert.NotContains(t, page, "alice")
	assert.NotContains(t, page, "bob")
	assert.Equal(t, 0, ev.store.len())
	assert.Contains(t, ev.logText(), "outcome=other-user")
}

// TestExpiredLink: a link past its TTL is 410, at start and at the form.
func TestExpiredLink(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	b, status, page := ev.signIn(link, "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	ev.clock.advance(11 * time.Minute)
	status, _, _ = ev.get(testopBrowser(), link)
	assert.Equal(t, http.StatusGone, status)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {aliceToken}})
	assert.Equal(t, http.StatusGone, status)
	assert.Equal(t, 0, ev.store.len())
}

// TestForgedLink: a ticket that is tampered with, truncated, made up, or
// sealed with another key is 400; so is one sealed for another purpose.
func TestForgedLink(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	tok := link[strings.Index(link, "t=")+2:]
	flip := []byte(tok)
	flip[len(flip)/2] ^= 0x01
	if flip[len(flip)/2] == '-' || flip[len(flip)/2] == '_' || flip[len(flip)/2] == '`' {
		flip[len(flip)/2] = 'A'
	}
	other, err := newSealer([]byte("another-key-another-key-another-k"), nil, time.Now)
	require.NoError(t, err)
	forged, err := other.sealValue(purposeTicket, time.Now().Add(time.Hour), ticket{ID: strings.Repeat("a", 32), Issuer: ev.op.Issuer, Subject: "alice", Profile: "mine"})
	require.NoError(t, err)
	wrongPurpose, err := ev.e.seal.sealValue(purposeCSRF, time.Now().Add(time.Hour), ticket{ID: strings.Repeat("a", 32), Issuer: ev.op.Issuer, Subject: "alice", Profile: "mine"})
	require.NoError(t, err)
	for name, v := range map[string]string{
		"flipped": string(flip), "truncated": tok[:len(tok)-4], "garbage": "not-a-ticket",
		"other key": forged, "other purpose": wrongPurpose, "empty": "",
	} {
		status, page, resp := ev.get(noRedirect(testopBrowser()), ev.base+"/start?t="+url.QueryEscape(v))
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.Empty(t, resp.Header.Get("Location"), name)
		assert.Empty(t, resp.Cookies(), name)
		if len(v) > 8 {
			assert.NotContains(t, page, v, name)
		}
	}
}

// TestTamperedState: a callback whose state is not the login cookie's, or
// without the cookie, exchanges nothing (400).
func TestTamperedState(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	b := noRedirect(testopBrowser())
	status, _, resp := ev.get(b, link)
	require.Equal(t, http.StatusSeeOther, status)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc.String(), ev.op.Issuer+"/"), "redirects only to the issuer")
	assert.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
	assert.NotEmpty(t, loc.Query().Get("nonce"))
	assert.Equal(t, ev.base+"/callback", loc.Query().Get("redirect_uri"))
	assertSecurityHeaders(t, resp.Header)

	status, _, _ = ev.get(b, ev.base+"/callback?code=x&state=wrong")
	assert.Equal(t, http.StatusBadRequest, status)
	status, _, _ = ev.get(noRedirect(testopBrowser()), ev.base+"/callback?code=x&state="+loc.Query().Get("state"))
	assert.Equal(t, http.StatusBadRequest, status, "no login cookie")
	assert.Equal(t, 0, ev.store.len())
}

// TestCrossSite: a post without the csrf field, with another's, from a
// foreign origin, marked cross-site, or without the session cookie stores
// nothing (403).
func TestCrossSite(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	b2, _, page2 := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	otherCSRF := csrfOf(t, page2)
	u, _ := url.Parse(ev.base + "/")
	var planted string
	for _, c := range b2.Jar.Cookies(u) {
		if c.Name == cookieSession {
			planted = c.Value
		}
	}
	require.NotEmpty(t, planted)
	for name, tc := range map[string]struct {
		b    *http.Client
		form url.Values
		mod  func(*http.Request)
	}{
		"no csrf":           {b, url.Values{"token": {aliceToken}}, nil},
		"another's csrf":    {b, url.Values{"csrf": {otherCSRF}, "token": {aliceToken}}, nil},
		"foreign origin":    {b, url.Values{"csrf": {csrf}, "token": {aliceToken}}, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }},
		"null origin":       {b, url.Values{"csrf": {csrf}, "token": {aliceToken}}, func(r *http.Request) { r.Header.Set("Origin", "null") }},
		"cross-site":        {b, url.Values{"csrf": {csrf}, "token": {aliceToken}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
		"no session cookie": {testopBrowser(), url.Values{"csrf": {csrf}, "token": {aliceToken}}, nil},
		"planted second cookie": {b, url.Values{"csrf": {csrf}, "token": {aliceToken}}, func(r *http.Request) {
			r.Header.Add("Cookie", cookieSession+"="+planted)
		}},
	} {
		mods := []func(*http.Request){}
		if tc.mod != nil {
			mods = append(mods, tc.mod)
		}
		status, _, _ := ev.post(tc.b, "/", tc.form, mods...)
		assert.Equal(t, http.StatusForbidden, status, name)
	}
	assert.Equal(t, 0, ev.store.len())
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status, "the real form still works")
}

// TestSecretInQuery: a form sent with values in its address stores
// nothing (400), does not echo them, and says to rotate.
func TestSecretInQuery(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	req, _ := http.NewRequest(http.MethodPost, ev.base+"/?token="+aliceToken, strings.NewReader(url.Values{"csrf": {csrf}, "token": {aliceToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Do(req)
	require.NoError(t, err)
	body := readBody(resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "rotate")
	assert.NotContains(t, body, aliceToken)
	status, body, _ = ev.get(b, ev.base+"/?token="+aliceToken)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.NotContains(t, body, aliceToken)
	assert.Equal(t, 0, ev.store.len())
	assert.NotContains(t, ev.logText(), aliceToken)
}

// TestUnknownParams: no route takes a return, redirect or next parameter,
// or any other it does not know: 400, no redirect.
func TestUnknownParams(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	for _, u := range []string{
		link + "&next=https://evil.example", link + "&return=https://evil.example", link + "&redirect=//evil.example",
		link + "&t=" + "x", ev.base + "/start?redirect_uri=https://evil.example",
		ev.base + "/callback?code=x&state=y&redirect=https://evil.example", ev.base + "/callback?next=/",
		ev.base + "/connected?code=x&state=y&return_to=https://evil.example",
		ev.base + "/?next=https://evil.example",
	} {
		status, _, resp := ev.get(noRedirect(testopBrowser()), u)
		assert.Equal(t, http.StatusBadRequest, status, u)
		assert.Empty(t, resp.Header.Get("Location"), u)
		assertSecurityHeaders(t, resp.Header)
	}
	for _, u := range []string{ev.base + "/nope", ev.base + "x", ev.srv.URL + "/"} {
		status, _, _ := ev.get(testopBrowser(), u)
		assert.Equal(t, http.StatusNotFound, status, u)
	}
	resp, err := http.Post(ev.base+"/start", "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	readBody(resp)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestCookieOfAnotherTicket: a browser that signs in for a second link
// (another profile) has that link's session; the first page's csrf does
// not post to it, so a value typed for one profile is never stored as the
// other's.
func TestCookieOfAnotherTicket(t *testing.T) {
	ev := newEnv(t)
	b, status, page1 := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	resp, err := testopSignIn(b, ev.link(alice(ev.op.Issuer), "other"), "alice", alicePass)
	require.NoError(t, err)
	page2 := readBody(resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page2, "Other API")
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page1)}, "token": {aliceToken}})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, 0, ev.store.len())
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page2)}, "access_key_id": {"AKIAEXAMPLE0000"}, "secret_access_key": {"secret-access-key-0000"}})
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"access_key_id", "secret_access_key"}, ev.store.get("users/sub-alice/other").Names())
}

// TestFormRefusals: unknown fields, missing or repeated ones, values too
// long or with control characters, a body too large, another media type:
// nothing stored, and the ticket is not spent.
func TestFormRefusals(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	for name, tc := range map[string]struct {
		form   url.Values
		mod    func(*http.Request)
		status int
	}{
		"unknown field":  {url.Values{"csrf": {csrf}, "token": {aliceToken}, "extra": {"x"}}, nil, 400},
		"missing field":  {url.Values{"csrf": {csrf}}, nil, 400},
		"empty value":    {url.Values{"csrf": {csrf}, "token": {""}}, nil, 400},
		"repeated field": {url.Values{"csrf": {csrf}, "token": {aliceToken, aliceToken}}, nil, 400},
		"too long":       {url.Values{"csrf": {csrf}, "token": {strings.Repeat("a", MaxValueLen+1)}}, nil, 400},
		"control char":   {url.Values{"csrf": {csrf}, "token": {"abc\ndef"}}, nil, 400},
		"body too large": {url.Values{"csrf": {csrf}, "token": {strings.Repeat("a", 20000)}}, nil, 413},
		"media type":     {url.Values{"csrf": {csrf}, "token": {aliceToken}}, func(r *http.Request) { r.Header.Set("Content-Type", "multipart/form-data; boundary=x") }, 415},
	} {
		mods := []func(*http.Request){}
		if tc.mod != nil {
			mods = append(mods, tc.mod)
		}
		status, body, _ := ev.post(b, "/", tc.form, mods...)
		assert.Equal(t, tc.status, status, name)
		assert.NotContains(t, body, aliceToken, name)
	}
	assert.Equal(t, 0, ev.store.len())
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status)
}

// TestNotEnrollable: Enroll offers nothing for a profile not in Options,
// not per subject, for a caller of another issuer or none.
func TestNotEnrollable(t *testing.T) {
	ev := newEnv(t)
	for name, tc := range map[string]struct {
		c       *provider.Caller
		profile string
	}{
		"not per subject": {alice(ev.op.Issuer), "shared"},
		"not configured":  {alice(ev.op.Issuer), "nope"},
		"other issuer":    {&provider.Caller{Issuer: "https://other.example", Subject: "alice"}, "mine"},
		"no caller":       {nil, "mine"},
	} {
		p, ok, err := ev.e.Enroll(context.Background(), nil, tc.c, tc.profile)
		assert.NoError(t, err, name)
		assert.False(t, ok, name)
		assert.Nil(t, p, name)
	}
}

// TestRemove deletes the caller's credential and nobody else's.
func TestRemove(t *testing.T) {
	ev := newEnv(t)
	ctx := context.Background()
	for _, sub := range []string{"alice", "bob"} {
		require.NoError(t, memTarget{ev.store, "users/sub-" + sub + "/mine"}.Put(ctx, "", provider.NewCredentials(map[string]string{"token": sub + "-token-000000"}, provider.Source{})))
	}
	require.NoError(t, ev.e.Remove(ctx, alice(ev.op.Issuer), "mine"))
	assert.True(t, ev.store.get("users/sub-alice/mine").IsZero())
	assert.False(t, ev.store.get("users/sub-bob/mine").IsZero())
	require.ErrorIs(t, ev.e.Remove(ctx, alice(ev.op.Issuer), "shared"), ErrNotEnrollable)
	require.ErrorIs(t, ev.e.Remove(ctx, alice(ev.op.Issuer), "nope"), ErrNotEnrollable)
}

// TestWatcherBounds: one watcher per session, caller and profile (a second
// link adds its id); at most MaxPending; each ends when its session
// closes or its link expires.
func TestWatcherBounds(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.MaxPending = 2 })
	ss1, cs1, _ := mcpSession(t)
	ss2, _, _ := mcpSession(t)
	ss3, _, _ := mcpSession(t)
	ctx := context.Background()
	for range 3 {
		_, ok, err := ev.e.Enroll(ctx, ss1, alice(ev.op.Issuer), "mine")
		require.NoError(t, err)
		require.True(t, ok)
	}
	assert.Equal(t, 1, ev.e.watch.pending())
	_, _, err := ev.e.Enroll(ctx, ss2, alice(ev.op.Issuer), "mine")
	require.NoError(t, err)
	assert.Equal(t, 2, ev.e.watch.pending())
	p, ok, err := ev.e.Enroll(ctx, ss3, alice(ev.op.Issuer), "mine")
	require.NoError(t, err)
	require.True(t, ok, "beyond MaxPending the link is still given")
	assert.NotEmpty(t, p.URL)
	assert.Equal(t, 2, ev.e.watch.pending())
	assert.Contains(t, ev.logText(), "outcome=link-unwatched")

	cs1.Close()
	waitFor(t, "the closed session's watcher to end", func() bool { return ev.e.watch.pending() == 1 })
	ev.clock.advance(11 * time.Minute)
	waitFor(t, "the expired watcher to end", func() bool { return ev.e.watch.pending() == 0 })
}
