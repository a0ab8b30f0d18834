package encfile_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

// hostileNames are profile names a request may send: secret-looking,
// path-like, with controls. Errors and logs never show them.
var hostileNames = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
	"ghp_" + strings.Repeat("A1b2", 9),
	"../../etc/" + canary,
	canary,
	canary + "\n",
	"/" + canary,
	".hidden-" + canary,
}

// TestCanary: no error or log line of any operation shows a value or a
// hostile name, whatever goes wrong.
func TestCanary(t *testing.T) {
	ctx := context.Background()
	dir := storeDir(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newStore(t, dir, func(o *encfile.Options) { o.Logger = logger })
	other := newStore(t, dir, func(o *encfile.Options) { o.Key = otherKey; o.Logger = logger })
	secret := creds("token", canary, "refresh_token", canary+"-rt")
	var errs []error
	for _, name := range hostileNames {
		_, err := p.Retrieve(ctx, name)
		errs = append(errs, err,
			p.Put(ctx, name, secret),
			p.CompareAndSwap(ctx, name, secret, secret),
			p.CompareAndSwap(ctx, name, provider.Credentials{}, secret),
			p.Delete(ctx, name))
		if err := p.Put(ctx, name, secret); err == nil {
			_, err := other.Retrieve(ctx, name)
			errs = append(errs, err, other.CompareAndSwap(ctx, name, secret, secret))
			os.Chmod(filepath.Join(dir, name), 0o644)
			_, err = p.Retrieve(ctx, name)
			errs = append(errs, err)
			os.Chmod(filepath.Join(dir, name), 0o600)
			errs = append(errs, p.Delete(ctx, name))
		}
	}
	if err := p.Put(ctx, "ok", secret); err != nil {
		t.Fatal(err)
	}
	errs = append(errs,
		p.CompareAndSwap(ctx, "ok", creds("token", canary+"-old"), secret),
		p.Put(ctx, "ok", creds("token", canary+strings.Repeat("x", encfile.DefaultMaxFileSize))),
		p.Put(ctx, "ok", creds(canary, "v")))
	_, err := other.Retrieve(ctx, "ok")
	errs = append(errs, err)
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		n++
		msg := err.Error() + fmt.Sprintf(" %#v %+v", err, err)
		for _, s := range append([]string{canary}, hostileNames...) {
			if strings.Contains(msg, s) {
				t.Errorf("error shows %q: %s", s, msg)
			}
		}
	}
	if n < 3*len(hostileNames) {
		t.Errorf("only %d errors", n)
	}
	for _, s := range append([]string{canary, "CANARY"}, hostileNames...) {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows %q", s)
		}
	}
	if !strings.Contains(logs.String(), "encfile: wrote") {
		t.Errorf("nothing logged: %s", logs.String())
	}
}
