package enroll

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
)

// The pages are server-rendered, without scripts or external assets. They
// never show a subject, a value, a ticket or text from the request.
var pages = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Heading}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:1rem 0 .25rem}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem}
button{margin-top:1.25rem;padding:.5rem 1rem}.or{margin-top:2rem;color:#555}</style></head>
<body><h1>{{.Heading}}</h1>
{{- if .Message}}<p>{{.Message}}</p>{{end}}
{{- if .Fields}}
<form method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="csrf" value="{{.CSRF}}">
{{- range .Fields}}
<label for="f-{{.Name}}">{{.Label}}</label>
<input id="f-{{.Name}}" name="{{.Name}}" type="{{if .Plain}}text{{else}}password{{end}}" autocomplete="off" autocapitalize="off" spellcheck="false" required maxlength="4096">
{{- end}}
<button type="submit">Save</button>
</form>
{{- end}}
{{- if .Connect}}
{{if .Fields}}<p class="or">Or connect your account instead:</p>{{end}}
<form method="post" action="{{.ConnectAction}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">Connect</button>
</form>
{{- end}}
</body></html>
`))

type page struct {
	Heading, Message      string
	Action, ConnectAction string
	CSRF                  string
	Fields                []Field
	Connect               bool
}

// baseCSP is the Content-Security-Policy of every response: nothing loads,
// forms post only here, no framing, no <base>.
const baseCSP = "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

// secure sets the headers every response carries.
func secure(h http.Header, formAction ...string) {
	csp := baseCSP
	if len(formAction) > 0 {
		// Chrome applies form-action to the redirect that follows a form
		// post: the Connect button leads to the third party.
		csp = strings.Replace(csp, "form-action 'self'", "form-action 'self' "+strings.Join(formAction, " "), 1)
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

func render(w http.ResponseWriter, status int, p page) {
	var b bytes.Buffer
	if err := pages.Execute(&b, p); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("internal error\n")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// A refusal is one of the short, generic answers of the pages: its status
// and the text shown; the outcome logged names it.
type refusal struct {
	status  int
	outcome string
	heading string
	message string
}

var (
	refuseNotFound   = refusal{http.StatusNotFound, "not-found", "Not found", ""}
	refuseMethod     = refusal{http.StatusMethodNotAllowed, "method", "Method not allowed", ""}
	refuseParams     = refusal{http.StatusBadRequest, "bad-params", "Bad request", "This address takes no such parameters. Open the link your app gave you."}
	refuseQuerySent  = refusal{http.StatusBadRequest, "query-refused", "Nothing was saved", "This form does not take values in its address, and nothing was saved. If you put a secret in the address, it may have been logged on the way: treat it as exposed and rotate it."}
	refuseLink       = refusal{http.StatusBadRequest, "bad-link", "This link is not valid", "Ask your app for a new link."}
	refuseExpired    = refusal{http.StatusGone, "expired", "This link has expired", "Ask your app for a new link."}
	refuseUsed       = refusal{http.StatusConflict, "replayed", "This link was already used", "Nothing more was saved. Ask your app for a new link if you need one."}
	refuseNoSession  = refusal{http.StatusBadRequest, "no-session", "Start from your app's link", "This page needs the sign-in that the link from your app starts. Open that link again."}
	refuseState      = refusal{http.StatusBadRequest, "bad-state", "Sign-in did not match", "The answer does not belong to the sign-in this browser started. Open the link from your app again."}
	refuseOtherUser  = refusal{http.StatusForbidden, "other-user", "Signed in as another user", "Nothing was saved. Sign in as the user your app is connected as, with a new link from your app."}
	refuseCrossSite  = refusal{http.StatusForbidden, "cross-site", "Refused", "This request did not come from this site's form. Reload the page from your app's link."}
	refuseDenied     = refusal{http.StatusForbidden, "denied", "Not completed", "Sign-in or the connection was cancelled or refused. Open the link from your app to try again."}
	refuseSignIn     = refusal{http.StatusBadGateway, "sign-in-failed", "Sign-in did not complete", "Open the link from your app to try again."}
	refuseForm       = refusal{http.StatusBadRequest, "bad-form", "Nothing was saved", "Fill in every field of the form once, each with at most 4096 characters and no line breaks or control characters."}
	refuseMediaType  = refusal{http.StatusUnsupportedMediaType, "media-type", "Nothing was saved", "Send the form from this site's page."}
	refuseTooLarge   = refusal{http.StatusRequestEntityTooLarge, "too-large", "Nothing was saved", "The form was too large."}
	refuseNoMethod   = refusal{http.StatusBadRequest, "no-such-method", "Not available", "This credential cannot be added that way."}
	refuseNotAllowed = refusal{http.StatusForbidden, "not-allowed", "Not allowed", "This server does not let your account store this credential. Ask its operator."}
	refuseSpent      = refusal{http.StatusServiceUnavailable, "store-failed-link-spent", "Not saved", "Nothing was saved: the credential store could not be written. This link is now used up: ask your app for a new link (retry what you were doing) and add the credential again."}
	refuseStore      = refusal{http.StatusServiceUnavailable, "store-failed", "Not saved", "The credential could not be saved now. Ask your app for a new link and try again later."}
)
