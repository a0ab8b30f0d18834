package enroll

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mcpcred/mcpcred/provider"
)

const queryCanary = "sk-live-Q7uEryCanary0123456789"

// TestNoOpenRedirect: whatever the path (encoded, doubled slashes,
// backslashes, absolute or scheme-relative, look-alike letters), the
// method and the parameters, a response redirects only to the issuer's
// authorization endpoint, the third party's, or the form at BASE/.
func TestNoOpenRedirect(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	tk := link[strings.Index(link, "t=")+2:]
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "oauthy"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	evil := []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "https:evil.example",
		"%2F%2Fevil.example", "/%2F/evil.example", "%5C%5Cevil.example", "\u2215\u2215evil.example", "%E2%88%95evil.example"}
	var paths []string
	for _, r := range []string{"", "/", "/start", "/callback", "/connect", "/connected"} {
		paths = append(paths, r)
		for _, e := range evil {
			paths = append(paths, r+"/"+e, r+e, "/"+e+r)
		}
	}
	paths = append(paths, "/st%61rt", "/%73tart", "/start/", "/./start", "/x/../start", "//start", "/ｓtart", "/START")
	queries := []string{"", "?t=" + tk, "?t=" + tk + "&next=//evil.example", "?next=https://evil.example", "?redirect_uri=//evil.example",
		"?code=x&state=y&iss=https://evil.example", "?t=" + tk + "#//evil.example"}
	allowed := func(loc string) bool { return loc == "/enroll/" || strings.HasPrefix(loc, ev.op.Issuer+"/") }
	nr := noRedirect(b)
	n := 0
	for _, p := range paths {
		for _, q := range queries {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
				req, err := http.NewRequest(m, ev.srv.URL+"/enroll"+p+q, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
				if err != nil {
					continue
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", ev.srv.URL)
				resp, err := nr.Do(req)
				require.NoError(t, err)
				readBody(resp)
				n++
				if loc := resp.Header.Get("Location"); loc != "" {
					assert.True(t, allowed(loc), "%s %s%s redirects to %s", m, p, q, loc)
					assert.NotContains(t, loc, "evil", "%s %s%s", m, p, q)
				}
			}
		}
	}
	t.Logf("%d requests", n)
	assert.Equal(t, 0, ev.store.len())
}

// TestSecretInQueryEveryRoute: a value sent in the address of any route,
// with any method, is never echoed in a page, a header or the log, nothing
// is stored, and the ticket is not spent.
func TestSecretInQueryEveryRoute(t *testing.T) {
	ev := newEnv(t)
	link := ev.link(alice(ev.op.Issuer), "mine")
	b, status, page := ev.signIn(link, "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	tk := link[strings.Index(link, "t=")+2:]
	for _, p := range []string{"", "/", "/start", "/callback", "/connect", "/connected", "/nope"} {
		for _, q := range []string{"?token=" + queryCanary, "?t=" + tk + "&token=" + queryCanary, "?" + queryCanary, "?code=" + queryCanary + "&state=x",
			"?csrf=" + csrf + "&token=" + queryCanary} {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut} {
				req, err := http.NewRequest(m, ev.base+p+q, strings.NewReader(url.Values{"csrf": {csrf}, "token": {queryCanary}}.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", ev.srv.URL)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				resp, err := noRedirect(b).Do(req)
				require.NoError(t, err)
				body := readBody(resp)
				what := m + " " + p + q
				assert.GreaterOrEqual(t, resp.StatusCode, 400, what)
				assert.NotContains(t, body, queryCanary, what)
				for k, vs := range resp.Header {
					assert.NotContains(t, strings.Join(vs, " "), queryCanary, what+" header "+k)
				}
				if (p == "" || p == "/") && m == http.MethodPost && strings.HasPrefix(q, "?token") {
					assert.Contains(t, body, "rotate", what)
				}
			}
		}
	}
	assert.Equal(t, 0, ev.store.len())
	assert.NotContains(t, ev.logText(), queryCanary)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status, "the ticket was not spent")
}

// TestCrossSiteVariants: posts whose Sec-Fetch-Site or Origin say they do
// not come from this origin's page are refused, in every spelling.
func TestCrossSiteVariants(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	u, _ := url.Parse(ev.srv.URL)
	for name, mod := range map[string]func(*http.Request){
		"same-site":            func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") },
		"none":                 func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "none") },
		"two sec-fetch-site":   func(r *http.Request) { r.Header.Add("Sec-Fetch-Site", "cross-site") },
		"empty sec-fetch-site": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "") },
		"origin other port":    func(r *http.Request) { r.Header.Set("Origin", "http://"+u.Hostname()+":1") },
		"origin https":         func(r *http.Request) { r.Header.Set("Origin", "https://"+u.Host) },
		"origin trailing /":    func(r *http.Request) { r.Header.Set("Origin", ev.srv.URL+"/") },
		"origin with path":     func(r *http.Request) { r.Header.Set("Origin", ev.srv.URL+"/enroll") },
		"origin suffix":        func(r *http.Request) { r.Header.Set("Origin", ev.srv.URL+".evil.example") },
		"origin localhost":     func(r *http.Request) { r.Header.Set("Origin", "http://localhost:"+u.Port()) },
		"two origins":          func(r *http.Request) { r.Header.Add("Origin", "https://evil.example") },
		"empty origin":         func(r *http.Request) { r.Header.Set("Origin", "") },
		"origin null":          func(r *http.Request) { r.Header.Set("Origin", "null") },
		"cookie twice in one header": func(r *http.Request) {
			c, _ := r.Cookie(cookieSession)
			r.Header.Set("Cookie", cookieSession+"="+c.Value+"; "+cookieSession+"="+c.Value)
		},
		"text/plain": func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		"charset latin1": func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1")
		},
	} {
		req, err := http.NewRequest(http.MethodPost, ev.base+"/", strings.NewReader(url.Values{"csrf": {csrf}, "token": {aliceToken}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", ev.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for _, c := range b.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		mod(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		readBody(resp)
		assert.GreaterOrEqual(t, resp.StatusCode, 400, name)
	}
	assert.Equal(t, 0, ev.store.len())
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status)
}

// failingPut is the mem: store whose Put fails while down is set, as an
// unreachable Vault's.
type failingPut struct {
	memTarget
	down *atomic.Bool
}

func (f failingPut) Put(ctx context.Context, p string, c provider.Credentials) error {
	if f.down.Load() {
		return provider.Unavailable("mem", "", "", errors.New("down"))
	}
	return f.memTarget.Put(ctx, p, c)
}

// TestStoreFailsAfterClaim: the ledger claims the link before the store
// writes (so that it stores once), so a write that fails spends the link.
// The page says plainly that nothing was saved and that a new link is
// needed, and the session ends: a resubmission is never told that the
// link "was already used", as if something had been saved.
func TestStoreFailsAfterClaim(t *testing.T) {
	ev := newEnv(t)
	var down atomic.Bool
	down.Store(true)
	ms := ev.store
	ev.schemes.Register("mem", Refresh(provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: failingPut{memTarget{ms, ref.Body}, &down}, Resources: []provider.Resource{{Scheme: "mem", Path: ref.Body}}}, nil
	}), []*OAuth{ev.third}))
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	status, body, resp := ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "Nothing was saved")
	assert.Contains(t, body, "new link")
	assert.NotContains(t, body, aliceToken)
	cleared := false
	for _, c := range resp.Cookies() {
		if c.Name == cookieSession && c.MaxAge < 0 {
			cleared = true
		}
	}
	assert.True(t, cleared, "the spent session is cleared")
	assert.Equal(t, 0, ev.store.len())

	status, body, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.NotEqual(t, http.StatusOK, status)
	assert.NotContains(t, body, "already used", "a resubmission is not told the link was used, as if saved")

	// A new link works once the store is back.
	down.Store(false)
	b, status, page = ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, aliceToken, ev.store.get("users/sub-alice/mine").Value("token"))
}

// TestLedgerFailureKeepsLink: a ledger that cannot be reached spends
// nothing: the page says to try again, and the same session then stores.
func TestLedgerFailureKeepsLink(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	inner := MemoryLedger()
	ev := newEnv(t, func(o *Options) {
		o.Ledger = LedgerFunc(func(ctx context.Context, id string, until time.Time) error {
			if down.Load() {
				return errors.New("ledger down")
			}
			return inner.Claim(ctx, id, until)
		})
	})
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	status, body, _ := ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "try again")
	assert.Equal(t, 0, ev.store.len())
	down.Store(false)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
	assert.Equal(t, http.StatusOK, status)
}

// TestWatchersPerCaller: one caller who opens many sessions gets at most
// 8 watchers (its further links still work, unwatched), so the
// others' links are still watched.
func TestWatchersPerCaller(t *testing.T) {
	ev := newEnv(t, func(o *Options) { o.MaxPending = maxPerCaller + 2 })
	ctx := context.Background()
	for range maxPerCaller + 4 {
		ss, _, _ := mcpSession(t)
		p, ok, err := ev.e.Enroll(ctx, ss, alice(ev.op.Issuer), "mine")
		require.NoError(t, err)
		require.True(t, ok)
		require.NotEmpty(t, p.URL)
	}
	assert.Equal(t, maxPerCaller, ev.e.watch.pending())
	ss, _, done := mcpSession(t)
	bob := &provider.Caller{Issuer: ev.op.Issuer, Subject: "bob"}
	p, ok, err := ev.e.Enroll(ctx, ss, bob, "mine")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, maxPerCaller+1, ev.e.watch.pending(), "bob's link is watched")
	b, status, page := ev.signIn(p.URL, "bob", bobPass)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ev.post(b, "/", url.Values{"csrf": {csrfOf(t, page)}, "token": {"bob-token-0123456789"}})
	require.Equal(t, http.StatusOK, status)
	select {
	case id := <-done:
		assert.Equal(t, p.ElicitationID, id)
	case <-time.After(20 * time.Second):
		t.Fatal("no completion notice for bob")
	}
	waitFor(t, "bob's watcher to end", func() bool { return ev.e.watch.pending() == maxPerCaller })
}

// TestMixUp: the identity provider's answer sent to the third party's
// callback, and the third party's sent to the identity provider's, in a
// browser where both flows are under way, exchange nothing; and a sealed
// cookie or token moved under another name (login, session, connect,
// csrf, ticket) opens as none of them.
func TestMixUp(t *testing.T) {
	ev := newEnv(t)
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "oauthy"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	csrf := csrfOf(t, page)
	nr := noRedirect(b)
	status, _, resp := ev.post(nr, "/connect", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, status)
	third, _ := url.Parse(resp.Header.Get("Location"))
	link := ev.link(alice(ev.op.Issuer), "mine")
	status, _, resp = ev.get(nr, link)
	require.Equal(t, http.StatusSeeOther, status)
	login, _ := url.Parse(resp.Header.Get("Location"))
	require.NotEqual(t, third.Query().Get("state"), login.Query().Get("state"))
	u, _ := url.Parse(ev.base + "/")
	vals := map[string]string{"csrf": csrf, "ticket": link[strings.Index(link, "t=")+2:]}
	for _, c := range b.Jar.Cookies(u) {
		vals[c.Name] = c.Value
	}
	require.Len(t, vals, 5, "login, session and connect cookies, csrf, ticket")

	status, _, _ = ev.get(nr, ev.base+"/connected?code=x&state="+url.QueryEscape(login.Query().Get("state")))
	assert.Equal(t, http.StatusBadRequest, status, "the sign-in's answer at the third party's callback")
	status, _, _ = ev.get(nr, ev.base+"/callback?code=x&state="+url.QueryEscape(third.Query().Get("state")))
	assert.Equal(t, http.StatusBadRequest, status, "the third party's answer at the sign-in's callback")
	status, _, _ = ev.get(nr, ev.base+"/callback?code=x&state="+url.QueryEscape(login.Query().Get("state"))+"&iss="+url.QueryEscape(ev.srv.URL))
	assert.Equal(t, http.StatusBadRequest, status, "an answer that names another issuer")

	for from, v := range vals {
		for _, to := range []string{cookieLogin, cookieSession, cookieConnect} {
			if from == to {
				continue
			}
			j := testopBrowser()
			j.Jar.SetCookies(u, []*http.Cookie{{Name: to, Value: v, Path: "/enroll"}})
			for _, try := range []func() int{
				func() int { s, _, _ := ev.get(noRedirect(j), ev.base+"/"); return s },
				func() int {
					s, _, _ := ev.post(noRedirect(j), "/", url.Values{"csrf": {csrf}, "token": {aliceToken}})
					return s
				},
				func() int {
					s, _, _ := ev.get(noRedirect(j), ev.base+"/callback?code=x&state="+url.QueryEscape(login.Query().Get("state")))
					return s
				},
				func() int {
					s, _, _ := ev.get(noRedirect(j), ev.base+"/connected?code=x&state="+url.QueryEscape(third.Query().Get("state")))
					return s
				},
			} {
				assert.GreaterOrEqual(t, try(), 400, "%s as %s", from, to)
			}
		}
		status, _, _ := ev.get(noRedirect(testopBrowser()), ev.base+"/start?t="+url.QueryEscape(v))
		if from != "ticket" {
			assert.Equal(t, http.StatusBadRequest, status, "%s as a ticket", from)
		}
		if from != "csrf" {
			status, _, _ = ev.post(b, "/", url.Values{"csrf": {v}, "token": {aliceToken}})
			assert.Equal(t, http.StatusForbidden, status, "%s as the csrf", from)
		}
	}
	assert.Equal(t, 0, ev.store.len())
}

// ctxPut is the mem: store whose Put honours its context, as a real
// store's client does.
type ctxPut struct{ memTarget }

func (s ctxPut) Put(ctx context.Context, p string, c provider.Credentials) error {
	if err := ctx.Err(); err != nil {
		return provider.Unavailable("mem", p, "", err)
	}
	return s.memTarget.Put(ctx, p, c)
}

// TestStoreOutlivesBrowser: a browser that goes away once its form is
// sent (the tab closed, the connection dropped) does not leave the link
// claimed and nothing stored: once claimed, the credential is written.
func TestStoreOutlivesBrowser(t *testing.T) {
	ev := newEnv(t)
	ms := ev.store
	ev.schemes.Register("mem", provider.SchemeFunc(func(ref provider.Ref) (provider.Target, error) {
		return provider.Target{Provider: ctxPut{memTarget{ms, ref.Body}}, Resources: []provider.Resource{{Scheme: "mem", Path: ref.Body}}}, nil
	}))
	b, status, page := ev.signIn(ev.link(alice(ev.op.Issuer), "mine"), "alice", alicePass)
	require.Equal(t, http.StatusOK, status)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // gone
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, ev.base+"/", strings.NewReader(url.Values{"csrf": {csrfOf(t, page)}, "token": {aliceToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range b.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	ev.e.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, aliceToken, ev.store.get("users/sub-alice/mine").Value("token"))
}
