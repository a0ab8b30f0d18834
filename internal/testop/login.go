package testop

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

const (
	// loginPath is where the OP serves its login page.
	loginPath = "/login"
	// authRequestParam names the authorization request, in the login
	// page's query and in its form.
	authRequestParam = "authRequestID"
)

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
{{if .ID}}<form method="post" action="` + loginPath + `">
<input type="hidden" name="` + authRequestParam + `" value="{{.ID}}">
<p><label>Username <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>{{end}}
</body>
</html>
`))

// loginPage is the OP's login page: GET shows the form for an
// authorization request, POST checks the password, binds the request to
// the user and redirects to the OP's callback, which redirects to the
// client with a code.
type loginPage struct {
	st       *store
	callback func(context.Context, string) string
}

func (l *loginPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		id := r.URL.Query().Get(authRequestParam)
		if !l.pending(r.Context(), id) {
			l.render(w, http.StatusBadRequest, "", "This sign-in request is unknown, expired or already signed in. Start again from the application.")
			return
		}
		l.render(w, http.StatusOK, id, "")
	case http.MethodPost:
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
			l.render(w, http.StatusUnsupportedMediaType, "", "The form must be sent as application/x-www-form-urlencoded.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			l.render(w, http.StatusBadRequest, "", "The form could not be read.")
			return
		}
		id := r.PostForm.Get(authRequestParam)
		if !l.pending(r.Context(), id) {
			l.render(w, http.StatusBadRequest, "", "This sign-in request is unknown, expired or already signed in. Start again from the application.")
			return
		}
		if err := l.st.CheckUsernamePassword(r.PostForm.Get("username"), r.PostForm.Get("password"), id); err != nil {
			l.render(w, http.StatusUnauthorized, id, "Wrong username or password.")
			return
		}
		l.st.logins.Add(1)
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusSeeOther)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		l.render(w, http.StatusMethodNotAllowed, "", "Method not allowed.")
	}
}

// pending reports whether id is an authorization request no user has
// signed in to yet: the page shows only IDs the OP made, and a request
// bound to a user cannot be bound to another before its code is used.
func (l *loginPage) pending(ctx context.Context, id string) bool {
	if id == "" {
		return false
	}
	r, err := l.st.Storage.AuthRequestByID(ctx, id)
	return err == nil && !r.Done()
}

func (l *loginPage) render(w http.ResponseWriter, status int, id, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	loginTemplate.Execute(w, struct{ ID, Message string }{id, message})
}

// Browser is a test user agent: an HTTP client with a cookie jar that
// follows redirects, for [SignIn].
func Browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err) // cookiejar.New never fails without options
	}
	return &http.Client{Jar: jar}
}

// SignIn is a user signing in with a browser: it follows start (an
// authorization request of one of the OP's web clients, or a page that
// redirects to one) with c to the OP's login page, posts the form with
// username and password, and returns the response at the end of the
// redirects that follow: the client's page at its redirect URI after a
// successful sign-in (the code and state are in resp.Request.URL's query
// when nothing redirected further), or the login page again with status
// 401 after a wrong password. The caller closes the response's body.
func SignIn(ctx context.Context, c *http.Client, start, username, password string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return nil, errors.New("testop: sign-in: invalid start URL")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testop: sign-in: %w", withoutURL(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	page := resp.Request.URL
	id := page.Query().Get(authRequestParam)
	if resp.StatusCode != http.StatusOK || page.Path != loginPath || id == "" {
		return nil, fmt.Errorf("testop: sign-in: the start URL did not lead to the login page (last status %d)", resp.StatusCode)
	}
	form := url.Values{authRequestParam: {id}, "username": {username}, "password": {password}}
	target := page.ResolveReference(&url.URL{Path: loginPath})
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(post)
	if err != nil {
		return nil, fmt.Errorf("testop: sign-in: %w", withoutURL(err))
	}
	return resp, nil
}

// withoutURL is err without the URL *url.Error names: URLs in this flow
// carry tickets, states and codes.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
