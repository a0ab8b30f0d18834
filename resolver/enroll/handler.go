package enroll

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/profile"
	"github.com/mcpcred/mcpcred/provider"
)

// Cookie names. Each is sealed for its own purpose, HttpOnly,
// SameSite=Lax, Secure on https, with Path BaseURL's path.
const (
	cookieLogin   = "mcpcred_login"
	cookieSession = "mcpcred_enroll"
	cookieConnect = "mcpcred_connect"
)

// The query parameters an authorization server may add to its answer at
// the callback (RFC 6749 4.1.2, RFC 9207's iss, OpenID session
// management's session_state). Any other parameter, anywhere, is refused.
var callbackParams = []string{"code", "state", "iss", "session_state", "error", "error_description", "error_uri", "scope"}

// loginState is the mcpcred_login cookie: the sign-in this browser
// started for a ticket.
type loginState struct {
	T        ticket `json:"t"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

// session is the mcpcred_enroll cookie: the ticket's caller signed in.
type session struct {
	T    ticket `json:"t"`
	CSRF string `json:"x"`
}

// csrfToken is the form's hidden field, sealed for purposeCSRF: bound to
// the session's ticket and its random value.
type csrfToken struct {
	ID   string `json:"i"`
	CSRF string `json:"x"`
}

// connectState is the mcpcred_connect cookie: the OAuth connection this
// browser started.
type connectState struct {
	T        ticket `json:"t"`
	Client   string `json:"c"`
	State    string `json:"s"`
	Verifier string `json:"v"`
}

// Handler serves the enrollment pages at BaseURL's path and below; mount
// it there without bearer authentication (its requests come from a
// browser, which proves who it is by signing in with Options.Issuer):
//
//	GET  BASE/start?t=TICKET    sign-in with the issuer (code + PKCE + nonce)
//	GET  BASE/callback          the issuer's answer
//	GET  BASE/                  the form
//	POST BASE/                  store pasted fields
//	POST BASE/connect           connect with the profile's OAuth third party
//	GET  BASE/connected         the third party's answer
//
// Any other path is 404, any other method 405, any query parameter a
// route does not take 400.
func (e *Enroller) Handler() http.Handler { return http.HandlerFunc(e.serve) }

func (e *Enroller) serve(w http.ResponseWriter, r *http.Request) {
	secure(w.Header())
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), e.basePath)
	if !ok {
		e.refuse(w, r, refuseNotFound, "", nil)
		return
	}
	type route struct {
		method string
		h      func(http.ResponseWriter, *http.Request)
	}
	routes := map[string]route{
		"":           {},
		"/":          {},
		"/start":     {http.MethodGet, e.start},
		"/callback":  {http.MethodGet, e.callback},
		"/connect":   {http.MethodPost, e.connectStart},
		"/connected": {http.MethodGet, e.connected},
	}
	rt, ok := routes[rest]
	switch {
	case !ok:
		e.refuse(w, r, refuseNotFound, "", nil)
	case rest == "" || rest == "/":
		switch r.Method {
		case http.MethodGet:
			e.form(w, r)
		case http.MethodPost:
			e.submit(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			e.refuse(w, r, refuseMethod, "", nil)
		}
	case r.Method != rt.method:
		w.Header().Set("Allow", rt.method)
		e.refuse(w, r, refuseMethod, "", nil)
	default:
		rt.h(w, r)
	}
}

// refuse answers with rf's page and logs it.
func (e *Enroller) refuse(w http.ResponseWriter, r *http.Request, rf refusal, name string, t *ticket) {
	var c *provider.Caller
	prefix := ""
	if t != nil {
		c, prefix, name = t.caller(), t.prefix(), t.Profile
	}
	if rf.status != http.StatusNotFound && rf.status != http.StatusMethodNotAllowed {
		e.event(r.Context(), "page", name, prefix, c, rf.outcome)
	}
	render(w, rf.status, page{Heading: rf.heading, Message: rf.message})
}

// query returns r's query parameters if each is one of allowed and given
// at most once, and the query parses; else ok is false.
func query(r *http.Request, allowed ...string) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, false
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) || len(v) != 1 {
			return nil, false
		}
	}
	return q, true
}

func random() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 && a != "" }

func (e *Enroller) setCookie(w http.ResponseWriter, name, value string, exp time.Time) {
	path := e.basePath
	if path == "" {
		path = "/"
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, Expires: exp, MaxAge: max(1, int(exp.Sub(e.opts.Now()).Seconds())),
		HttpOnly: true, Secure: e.secure, SameSite: http.SameSiteLaxMode})
}

func (e *Enroller) clearCookie(w http.ResponseWriter, name string) {
	path := e.basePath
	if path == "" {
		path = "/"
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: e.secure, SameSite: http.SameSiteLaxMode})
}

// cookie opens the cookie name (sealed for p) into v and returns its
// expiry (its ticket's): errSealed when it is missing, given twice or does
// not open, errExpired when it expired.
func (e *Enroller) cookie(r *http.Request, name string, p purpose, v any) (time.Time, error) {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 {
		return time.Time{}, errSealed
	}
	return e.seal.openValue(p, cs[0].Value, v)
}

// answer opens an authorization response at one of the callbacks: its
// query, of callbackParams only, and the sealed cookie (name, sealed for
// p) of the browser that started the flow, into v. It has answered the
// request when ok is false.
func (e *Enroller) answer(w http.ResponseWriter, r *http.Request, name string, p purpose, v any) (q url.Values, exp time.Time, ok bool) {
	if q, ok = query(r, callbackParams...); !ok {
		e.refuse(w, r, refuseParams, "", nil)
		return nil, time.Time{}, false
	}
	exp, err := e.cookie(r, name, p, v)
	if err != nil {
		e.refuse(w, r, sealedRefusal(err, refuseNoSession), "", nil)
		return nil, time.Time{}, false
	}
	return q, exp, true
}

// sealedRefusal maps a sealed value that did not open to its answer.
func sealedRefusal(err error, invalid refusal) refusal {
	if errors.Is(err, errExpired) {
		return refuseExpired
	}
	return invalid
}

// openTicket opens a ticket and checks that its profile is still offered.
func (e *Enroller) openTicket(text string) (*ticket, error) {
	var t ticket
	exp, err := e.seal.openValue(purposeTicket, text, &t)
	if err != nil {
		return nil, err
	}
	if _, ok := e.opts.Profiles[t.Profile]; !ok || t.caller().Validate() != nil || t.Issuer != e.opts.Issuer || !validID(t.ID) {
		return nil, errSealed
	}
	t.exp = exp
	return &t, nil
}

// start (GET BASE/start?t=TICKET) begins the sign-in: a login cookie
// holding the ticket, state, nonce and PKCE verifier, and a redirect to the
// issuer's authorization endpoint. It stores and consumes nothing.
func (e *Enroller) start(w http.ResponseWriter, r *http.Request) {
	q, ok := query(r, "t")
	if !ok || q.Get("t") == "" {
		e.refuse(w, r, refuseParams, "", nil)
		return
	}
	t, err := e.openTicket(q.Get("t"))
	if err != nil {
		e.refuse(w, r, sealedRefusal(err, refuseLink), "", nil)
		return
	}
	ls := loginState{T: *t, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	v, err := e.seal.sealValue(purposeLogin, t.exp, ls)
	if err != nil {
		e.refuse(w, r, refuseStore, "", t)
		return
	}
	e.setCookie(w, cookieLogin, v, t.exp)
	e.event(r.Context(), "start", t.Profile, t.prefix(), t.caller(), "sign-in")
	http.Redirect(w, r, e.login.AuthCodeURL(ls.State, oidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier)), http.StatusSeeOther)
}

// callback (GET BASE/callback) finishes the sign-in: the state matches the
// login cookie's, the code is exchanged with the PKCE verifier, the ID
// token verifies (issuer, audience, expiry, signature, nonce), and names
// the ticket's issuer and subject. Then the session cookie, and a redirect
// to the form.
func (e *Enroller) callback(w http.ResponseWriter, r *http.Request) {
	var ls loginState
	q, exp, ok := e.answer(w, r, cookieLogin, purposeLogin, &ls)
	if !ok {
		return
	}
	t := &ls.T
	t.exp = exp
	if !equal(q.Get("state"), ls.State) {
		e.refuse(w, r, refuseState, "", t)
		return
	}
	e.clearCookie(w, cookieLogin) // one answer per sign-in
	if iss := q.Get("iss"); q.Has("iss") && iss != e.opts.Issuer {
		e.refuse(w, r, refuseState, "", t)
		return
	}
	if q.Has("error") || q.Get("code") == "" {
		e.refuse(w, r, refuseDenied, "", t)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, e.opts.HTTPClient), 30*time.Second)
	defer cancel()
	tok, err := e.login.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		e.refuse(w, r, refuseSignIn, "", t)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		e.refuse(w, r, refuseSignIn, "", t)
		return
	}
	id, err := e.verifier.Verify(ctx, raw)
	if err != nil || !equal(id.Nonce, ls.Nonce) || !e.authorizedParty(id) {
		e.refuse(w, r, refuseSignIn, "", t)
		return
	}
	if id.Issuer != t.Issuer || id.Subject != t.Subject {
		e.refuse(w, r, refuseOtherUser, "", t)
		return
	}
	s := session{T: *t, CSRF: random()}
	v, err := e.seal.sealValue(purposeSession, t.exp, s)
	if err != nil {
		e.refuse(w, r, refuseStore, "", t)
		return
	}
	e.setCookie(w, cookieSession, v, t.exp)
	e.event(r.Context(), "callback", t.Profile, t.prefix(), t.caller(), "signed-in")
	http.Redirect(w, r, e.basePath+"/", http.StatusSeeOther)
}

// authorizedParty checks OpenID Core's azp rules (3.1.3.7): an ID token
// with several audiences has an azp, and an azp, when present, is this
// client. A token issued to another client does not sign in here.
func (e *Enroller) authorizedParty(id *oidc.IDToken) bool {
	var c struct {
		AZP *string `json:"azp"`
	}
	if id.Claims(&c) != nil {
		return false
	}
	if c.AZP == nil {
		return len(id.Audience) <= 1
	}
	return *c.AZP == e.opts.ClientID
}

// form (GET BASE/) shows the ticket's profile's form.
func (e *Enroller) form(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		e.refuse(w, r, refuseQuerySent, "", nil)
		return
	}
	var s session
	exp, err := e.cookie(r, cookieSession, purposeSession, &s)
	if err != nil {
		e.refuse(w, r, sealedRefusal(err, refuseNoSession), "", nil)
		return
	}
	p, ok := e.opts.Profiles[s.T.Profile]
	if !ok {
		e.refuse(w, r, refuseLink, "", nil)
		return
	}
	csrf, err := e.seal.sealValue(purposeCSRF, exp, csrfToken{ID: s.T.ID, CSRF: s.CSRF})
	if err != nil {
		e.refuse(w, r, refuseStore, "", &s.T)
		return
	}
	title := p.Title
	if title == "" {
		title = s.T.Profile
	}
	pg := page{Heading: "Add your credentials for " + title, CSRF: csrf, Fields: p.Fields, Action: e.basePath + "/", ConnectAction: e.basePath + "/connect"}
	if p.OAuth != nil {
		pg.Connect = true
		u, _ := url.Parse(e.connect[p.OAuth.Name].Endpoint.AuthURL)
		secure(w.Header(), originOf(u))
	}
	if len(p.Fields) > 0 {
		pg.Message = "The values go to this server's credential store for your account only. They are not shown again."
	}
	render(w, http.StatusOK, pg)
}

// postForm checks a POST to the pages: no query, sent from this site's
// page (Sec-Fetch-Site and Origin when the browser sends them), a
// urlencoded body of at most 16 KiB, each field once, the session cookie
// and its csrf token. It returns the fields and the session.
func (e *Enroller) postForm(w http.ResponseWriter, r *http.Request) (url.Values, *session, bool) {
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		e.refuse(w, r, refuseQuerySent, "", nil)
		return nil, nil, false
	}
	if sfs := r.Header.Values("Sec-Fetch-Site"); len(sfs) > 1 || len(sfs) == 1 && sfs[0] != "same-origin" {
		e.refuse(w, r, refuseCrossSite, "", nil)
		return nil, nil, false
	}
	if o := r.Header.Values("Origin"); len(o) > 1 || len(o) == 1 && o[0] != e.origin {
		e.refuse(w, r, refuseCrossSite, "", nil)
		return nil, nil, false
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || len(params) > 1 || len(params) == 1 && !strings.EqualFold(params["charset"], "utf-8") {
		e.refuse(w, r, refuseMediaType, "", nil)
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			e.refuse(w, r, refuseTooLarge, "", nil)
		} else {
			e.refuse(w, r, refuseForm, "", nil)
		}
		return nil, nil, false
	}
	var s session
	exp, err := e.cookie(r, cookieSession, purposeSession, &s)
	if err != nil {
		if errors.Is(err, errExpired) {
			e.refuse(w, r, refuseExpired, "", nil)
		} else {
			e.refuse(w, r, refuseCrossSite, "", nil)
		}
		return nil, nil, false
	}
	s.T.exp = exp
	form, err := url.ParseQuery(string(body))
	if err != nil {
		e.refuse(w, r, refuseForm, "", &s.T)
		return nil, nil, false
	}
	var ct csrfToken
	if c := form["csrf"]; len(c) != 1 {
		e.refuse(w, r, refuseCrossSite, "", &s.T)
		return nil, nil, false
	} else if _, err := e.seal.openValue(purposeCSRF, c[0], &ct); err != nil || ct.ID != s.T.ID || !equal(ct.CSRF, s.CSRF) {
		e.refuse(w, r, refuseCrossSite, "", &s.T)
		return nil, nil, false
	}
	delete(form, "csrf")
	for _, v := range form {
		if len(v) != 1 {
			e.refuse(w, r, refuseForm, "", &s.T)
			return nil, nil, false
		}
	}
	return form, &s, true
}

// validValue reports whether v can be a credential value: 1 to
// MaxValueLen bytes of UTF-8 without control characters.
func validValue(v string) bool {
	return v != "" && len(v) <= MaxValueLen && utf8.ValidString(v) &&
		!strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}

// submit (POST BASE/) stores the pasted fields for the ticket's caller.
func (e *Enroller) submit(w http.ResponseWriter, r *http.Request) {
	form, s, ok := e.postForm(w, r)
	if !ok {
		return
	}
	t := &s.T
	p := e.opts.Profiles[t.Profile]
	if len(p.Fields) == 0 {
		e.refuse(w, r, refuseNoMethod, "", t)
		return
	}
	fields := make(map[string]string, len(p.Fields))
	for _, f := range p.Fields {
		v := form[f.Name]
		if len(v) != 1 || !validValue(v[0]) {
			e.refuse(w, r, refuseForm, "", t)
			return
		}
		fields[f.Name] = v[0]
	}
	if len(form) != len(p.Fields) { // a field the profile does not declare
		e.refuse(w, r, refuseForm, "", t)
		return
	}
	e.store(w, r, t, fields, cookieSession)
}

// store claims t and stores fields as the ticket caller's credential of
// its profile, then clears the cookies named and answers the done page.
func (e *Enroller) store(w http.ResponseWriter, r *http.Request, t *ticket, fields map[string]string, clear ...string) {
	c := t.caller()
	st, _, err := e.profiles.StoreFor(c, t.Profile)
	if err != nil {
		if errors.Is(err, profile.ErrNotOffered) || errors.Is(err, profile.ErrNotPerSubject) || errors.Is(err, provider.ErrReadOnly) {
			e.refuse(w, r, refuseNotAllowed, "", t)
		} else {
			e.refuse(w, r, refuseStore, "", t)
		}
		return
	}
	// The claim and the write run to their end even if the browser goes
	// away meanwhile: a claim without its write spends the link.
	ctx, cancel := context.WithTimeout(provider.ContextWithCaller(context.WithoutCancel(r.Context()), c), 30*time.Second)
	defer cancel()
	if err := e.opts.Ledger.Claim(ctx, t.ID, t.exp); err != nil {
		if errors.Is(err, ErrReplayed) {
			e.refuse(w, r, refuseUsed, "", t)
		} else {
			e.refuse(w, r, refuseStore, "", t)
		}
		return
	}
	if err := st.Put(ctx, t.Profile, provider.NewCredentials(fields, provider.Source{Provider: "enroll"})); err != nil {
		// The claim stands (it is what makes a link store once, and a
		// ledger cannot take one back): this link is spent though
		// nothing was stored. Say so, and end the session, so that a
		// resubmission is not answered "already used" as if it had.
		for _, name := range clear {
			e.clearCookie(w, name)
		}
		e.refuse(w, r, refuseSpent, "", t)
		return
	}
	e.invalidate(c, t.Profile)
	e.watch.signal(c, t.Profile)
	e.event(r.Context(), "store", t.Profile, t.prefix(), c, "stored")
	for _, name := range clear {
		e.clearCookie(w, name)
	}
	render(w, http.StatusOK, page{Heading: "Saved", Message: "Saved. Return to your app."})
}

// connectStart (POST BASE/connect) begins the OAuth connection with the
// profile's third party: a connect cookie with state and PKCE verifier,
// and a redirect to its authorization endpoint.
func (e *Enroller) connectStart(w http.ResponseWriter, r *http.Request) {
	form, s, ok := e.postForm(w, r)
	if !ok {
		return
	}
	t := &s.T
	p := e.opts.Profiles[t.Profile]
	if len(form) != 0 {
		e.refuse(w, r, refuseForm, "", t)
		return
	}
	if p.OAuth == nil {
		e.refuse(w, r, refuseNoMethod, "", t)
		return
	}
	cs := connectState{T: *t, Client: p.OAuth.Name, State: random(), Verifier: oauth2.GenerateVerifier()}
	exp := t.exp
	v, err := e.seal.sealValue(purposeConnect, exp, cs)
	if err != nil {
		e.refuse(w, r, refuseStore, "", t)
		return
	}
	e.setCookie(w, cookieConnect, v, exp)
	e.event(r.Context(), "connect", t.Profile, t.prefix(), t.caller(), "authorize")
	http.Redirect(w, r, e.connect[cs.Client].AuthCodeURL(cs.State, oauth2.S256ChallengeOption(cs.Verifier)), http.StatusSeeOther)
}

// connected (GET BASE/connected) finishes the OAuth connection: the state
// matches the connect cookie's, whose ticket is the session's; the code is
// exchanged with the verifier; the tokens are stored in the OAuth shape.
func (e *Enroller) connected(w http.ResponseWriter, r *http.Request) {
	var cs connectState
	q, exp, ok := e.answer(w, r, cookieConnect, purposeConnect, &cs)
	if !ok {
		return
	}
	t := &cs.T
	t.exp = exp
	var s session
	if _, err := e.cookie(r, cookieSession, purposeSession, &s); err != nil || s.T.ID != t.ID {
		e.refuse(w, r, sealedRefusal(err, refuseNoSession), "", t)
		return
	}
	if !equal(q.Get("state"), cs.State) {
		e.refuse(w, r, refuseState, "", t)
		return
	}
	e.clearCookie(w, cookieConnect)
	p := e.opts.Profiles[t.Profile]
	cfg := e.connect[cs.Client]
	if p.OAuth == nil || p.OAuth.Name != cs.Client || cfg == nil {
		e.refuse(w, r, refuseNoMethod, "", t)
		return
	}
	if iss := q.Get("iss"); q.Has("iss") && p.OAuth.Issuer != "" && iss != p.OAuth.Issuer {
		// RFC 9207: the answer is another authorization server's.
		e.refuse(w, r, refuseState, "", t)
		return
	}
	if q.Has("error") || q.Get("code") == "" {
		e.refuse(w, r, refuseDenied, "", t)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, e.opts.HTTPClient), 30*time.Second)
	defer cancel()
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(cs.Verifier))
	if err != nil || tok.AccessToken == "" {
		e.refuse(w, r, refuseSignIn, "", t)
		return
	}
	fields, ok := oauthFields(cs.Client, tok)
	if !ok {
		e.refuse(w, r, refuseSignIn, "", t)
		return
	}
	e.store(w, r, t, fields, cookieSession)
}
