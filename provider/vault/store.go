package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
)

var (
	_ provider.Store = (*Provider)(nil)
	_ provider.Store = (*refProvider)(nil)
)

// maxPutAttempts bounds how often a Put that has to check and set (on a
// mount or secret with cas_required, or through a reference to some keys
// of a secret) reads and writes again after another writer got in first.
const maxPutAttempts = 5

// Vault's messages for a check-and-set write, looked for (never shown) to
// tell a lost race and a mount that requires check-and-set from other 400
// answers.
const (
	casMismatch = "check-and-set parameter did not match"
	casRequired = "check-and-set parameter required"
)

// Put stores c's fields as the KV v2 secret profile maps to (see
// [Provider.RefFor]), as a new version. With Options.Fields each field is
// written under the key it maps to, and the secret's other keys are kept.
// See the package documentation, "Storing".
func (p *Provider) Put(ctx context.Context, profile string, c provider.Credentials) error {
	ref, err := p.storeRef(profile)
	if err != nil {
		return err
	}
	return p.put(ctx, profile, ref, true, c)
}

// Delete deletes the KV v2 secret profile maps to with all its versions
// (DELETE MOUNT/metadata/PATH). Deleting a secret that does not exist is
// not an error.
func (p *Provider) Delete(ctx context.Context, profile string) error {
	ref, err := p.storeRef(profile)
	if err != nil {
		return err
	}
	return p.delete(ctx, profile, ref, true)
}

// CompareAndSwap stores next as the secret profile maps to if what is
// stored has exactly old's fields (a zero old: nothing is stored), with
// Vault's check-and-set, so that of two writers that read the same
// version only one succeeds. Otherwise it returns an error wrapping
// [provider.ErrConflict].
func (p *Provider) CompareAndSwap(ctx context.Context, profile string, old, next provider.Credentials) error {
	ref, err := p.storeRef(profile)
	if err != nil {
		return err
	}
	return p.compareAndSwap(ctx, profile, ref, true, old, next)
}

// PutRef is [Provider.Put] for the secret ref names. With ref.Field set,
// c must hold exactly that field; it is written under that key and the
// secret's other keys are kept.
func (p *Provider) PutRef(ctx context.Context, ref Ref, c provider.Credentials) error {
	return p.put(ctx, "", ref, ref.Field == "", c)
}

// DeleteRef is [Provider.Delete] for the secret ref names. With ref.Field
// set it deletes the secret only if it holds no other key (deleting one
// key of every version would destroy the others).
func (p *Provider) DeleteRef(ctx context.Context, ref Ref) error {
	return p.delete(ctx, "", ref, ref.Field == "")
}

// CompareAndSwapRef is [Provider.CompareAndSwap] for the secret ref names,
// comparing what [Provider.RetrieveRef] would return.
func (p *Provider) CompareAndSwapRef(ctx context.Context, ref Ref, old, next provider.Credentials) error {
	return p.compareAndSwap(ctx, "", ref, ref.Field == "", old, next)
}

// storeRef is [Provider.RefFor] for a write.
func (p *Provider) storeRef(profile string) (Ref, error) {
	ref, ok := p.RefFor(profile)
	if !ok {
		return Ref{}, &provider.Error{Provider: Name, Profile: profile, Locator: p.o.Mount + "/" + p.o.PathTemplate, Err: errors.New("vault: profile name cannot be used in a Vault path")}
	}
	return ref, nil
}

// kvTarget is a KV v2 secret to write.
type kvTarget struct {
	profile string
	mount   string            // "secret"
	rel     string            // path below the mount: "mcp/users/sub-alice"
	sel     map[string]string // field name -> key, for a reference to some keys; nil: the whole secret
}

func (t *kvTarget) dataPath() string { return t.mount + "/data/" + t.rel }
func (t *kvTarget) metaPath() string { return t.mount + "/metadata/" + t.rel }

// selection returns the keys a write of ref touches: its one field, or
// Options.Fields; nil for every key.
func (p *Provider) selection(ref Ref, mapFields bool) map[string]string {
	switch {
	case ref.Field != "":
		return map[string]string{ref.Field: ref.Field}
	case mapFields && p.o.Fields != nil:
		return p.o.Fields
	}
	return nil
}

// storeOp runs op against the KV v2 secret ref names, logging in as
// needed and once more if Vault rejects the token itself, as Retrieve does.
// It refuses, wrapping [provider.ErrReadOnly], a version pin and anything
// that is not on a KV v2 mount. Whatever happens, no cached value of the
// path outlives the write.
func (p *Provider) storeOp(ctx context.Context, profile string, ref Ref, mapFields bool, op func(t *kvTarget) (errKind, error)) error {
	if err := ctx.Err(); err != nil {
		return &provider.Error{Provider: Name, Profile: profile, Err: fmt.Errorf("vault: %w", err)}
	}
	if p.noConfig {
		return &provider.Error{Provider: Name, Profile: profile, Err: errors.New("vault: not configured (no VAULT_ADDR, VAULT_TOKEN, ~/.vault-token or auth method)")}
	}
	if ref.Version > 0 {
		return &provider.Error{Provider: Name, Profile: profile, Locator: showPath(ref.fullPath()), Err: &storeError{msg: "a reference pinned to a version names that version only; write to the reference without ?version=", is: provider.ErrReadOnly}}
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		gen, err := p.sess.ensure(ctx)
		if err != nil {
			return p.storeLoginErr(ctx, profile, ref, err)
		}
		mi, rel, kind, err := p.locate(ctx, profile, ref)
		if err == nil && mi.engine != EngineKV2 {
			path := joinPath(mi.mount, rel)
			return &provider.Error{Provider: Name, Profile: profile, Locator: showPath(path), Err: &storeError{msg: readOnlyReason(mi.engine), is: provider.ErrReadOnly}}
		}
		if err == nil {
			t := &kvTarget{profile: profile, mount: mi.mount, rel: rel, sel: p.selection(ref, mapFields)}
			kind, err = op(t)
			p.forget(t.dataPath())
		}
		if kind != kindInvalidToken {
			return err
		}
		lastErr = err
		p.sess.reject(gen)
	}
	return lastErr
}

func readOnlyReason(e Engine) string {
	if e == EngineKV1 {
		return "a KV v1 mount keeps no versions, so compare-and-swap is impossible there: credentials are stored on KV v2 mounts only"
	}
	return "not a KV v2 secret (dynamic secrets engines are written by Vault itself): credentials are stored on KV v2 mounts only"
}

// storeLoginErr is loginErr for a write.
func (p *Provider) storeLoginErr(ctx context.Context, profile string, ref Ref, err error) error {
	loc := showPath(ref.fullPath())
	if ctx.Err() != nil {
		return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: fmt.Errorf("vault: %w", ctx.Err())}
	}
	var ul *unavailableLogin
	if errors.As(err, &ul) {
		return provider.Unavailable(Name, profile, loc, &ul.LoginError)
	}
	return &provider.Error{Provider: Name, Profile: profile, Locator: loc, Err: err}
}

// forget drops anything cached for path, so that no read after a write is
// answered with what was there before: a cached lease (KV v2 is not cached,
// but a path read as logical may have been) and a shared read in flight.
func (p *Provider) forget(path string) {
	p.flight.Forget(path)
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.leases[path]; l != nil {
		if l.watcher != nil {
			l.watcher.Stop()
		}
		delete(p.leases, path)
	}
}

func (p *Provider) put(ctx context.Context, profile string, ref Ref, mapFields bool, c provider.Credentials) error {
	return p.storeOp(ctx, profile, ref, mapFields, func(t *kvTarget) (errKind, error) {
		if err := p.checkFields(t, ref, c); err != nil {
			return kindNone, err
		}
		if t.sel == nil {
			// The whole secret: one write, unless the mount or secret
			// requires check-and-set.
			res := p.writeKV(ctx, t, payload(nil, nil, c), -1)
			if !res.casRequired {
				return res.kind, res.err
			}
		}
		for range maxPutAttempts {
			cur, kind, err := p.readKV(ctx, t)
			if err != nil {
				return kind, err
			}
			res := p.writeKV(ctx, t, payload(cur.data, t.sel, c), cur.version)
			if !res.conflict {
				return res.kind, res.err
			}
		}
		return kindNone, p.conflict(t)
	})
}

func (p *Provider) compareAndSwap(ctx context.Context, profile string, ref Ref, mapFields bool, old, next provider.Credentials) error {
	return p.storeOp(ctx, profile, ref, mapFields, func(t *kvTarget) (errKind, error) {
		if err := p.checkFields(t, ref, next); err != nil {
			return kindNone, err
		}
		cur, kind, err := p.readKV(ctx, t)
		if err != nil {
			return kind, err
		}
		if !view(cur.data, t.sel).Equal(old) {
			return kindNone, p.conflict(t)
		}
		res := p.writeKV(ctx, t, payload(cur.data, t.sel, next), cur.version)
		if res.conflict {
			return kindNone, p.conflict(t)
		}
		return res.kind, res.err
	})
}

func (p *Provider) delete(ctx context.Context, profile string, ref Ref, mapFields bool) error {
	return p.storeOp(ctx, profile, ref, mapFields, func(t *kvTarget) (errKind, error) {
		if t.sel != nil {
			cur, kind, err := p.readKV(ctx, t)
			if err != nil {
				return kind, err
			}
			keys := slices.Collect(maps.Values(t.sel))
			for k := range cur.data {
				if !slices.Contains(keys, k) {
					return kindNone, &provider.Error{Provider: Name, Profile: t.profile, Locator: showPath(t.dataPath()), Err: &storeError{
						msg: "the secret holds keys besides the ones this reference names; deleting it would destroy them (delete it through a reference to the whole secret)",
						is:  provider.ErrReadOnly,
					}}
				}
			}
		}
		_, err := p.client.Logical().DeleteWithContext(ctx, t.metaPath())
		if err != nil {
			cl := classify(ctx, err)
			if cl.kind != kindNotFound {
				return cl.kind, p.toError(t.profile, t.metaPath(), "delete", cl)
			}
		}
		p.o.Logger.Info("vault: deleted secret with all its versions", "path", showPath(t.metaPath()))
		return kindNone, nil
	})
}

// checkFields refuses credentials a write could not store as they are:
// none at all, or other fields than the reference or Options.Fields name.
func (p *Provider) checkFields(t *kvTarget, ref Ref, c provider.Credentials) error {
	fail := func(msg string) error {
		return &provider.Error{Provider: Name, Profile: t.profile, Locator: showPath(t.dataPath()), Err: errors.New("vault: " + msg)}
	}
	if c.IsZero() {
		return fail("no fields to store (Delete removes a secret)")
	}
	if t.sel == nil {
		return nil
	}
	want := slices.Sorted(maps.Keys(t.sel))
	if got := c.Names(); !slices.Equal(got, want) {
		what := "Options.Fields names the fields " + names(want)
		if ref.Field != "" {
			what = "a reference to the key " + provider.Describe(ref.Field) + " stores exactly that one field"
		}
		return fail(what + "; the credentials hold " + names(got))
	}
	return nil
}

// names lists field names for an error: as themselves when they read as
// names, else by length.
func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = provider.Describe(n)
	}
	return strings.Join(out, ", ")
}

// kvCurrent is the current version of a KV v2 secret.
type kvCurrent struct {
	data    map[string]any // nil: nothing stored (never written, deleted or destroyed)
	version int            // the current version; 0 when the path was never written (or its metadata deleted)
}

// readKV reads the current version of t's secret, for a check-and-set.
func (p *Provider) readKV(ctx context.Context, t *kvTarget) (kvCurrent, errKind, error) {
	s, err := p.client.Logical().ReadWithContext(ctx, t.dataPath())
	if err != nil {
		cl := classify(ctx, err)
		if cl.kind == kindNotFound {
			return kvCurrent{}, kindNone, nil
		}
		return kvCurrent{}, cl.kind, p.toError(t.profile, t.dataPath(), "read", cl)
	}
	if s == nil || s.Data == nil {
		// 404 without a body: never written, or its metadata deleted.
		return kvCurrent{}, kindNone, nil
	}
	meta, ok := s.Data["metadata"].(map[string]any)
	d, present := s.Data["data"]
	if !ok || !present {
		return kvCurrent{}, kindOther, &provider.Error{Provider: Name, Profile: t.profile, Locator: showPath(t.dataPath()), Err: errors.New("vault: the answer is not a KV v2 secret")}
	}
	var cur kvCurrent
	if n, ok := meta["version"].(json.Number); ok {
		v, _ := n.Int64()
		cur.version = int(v)
	}
	if d != nil {
		if cur.data, ok = d.(map[string]any); !ok {
			return kvCurrent{}, kindOther, &provider.Error{Provider: Name, Profile: t.profile, Locator: showPath(t.dataPath()), Err: errors.New("vault: the answer is not a KV v2 secret")}
		}
	}
	return cur, kindNone, nil
}

// view is what Retrieve makes of data: the selected keys under their field
// names, or every key; empty values are no fields.
func view(data map[string]any, sel map[string]string) provider.Credentials {
	fields := make(map[string]string, len(data))
	if sel == nil {
		for k, v := range data {
			fields[k] = stringify(v)
		}
	} else {
		for name, key := range sel {
			if v, ok := data[key]; ok {
				fields[name] = stringify(v)
			}
		}
	}
	return provider.NewCredentials(fields, provider.Source{})
}

// payload is the data to write: c's fields, each under its key when sel
// selects keys, with the other keys of cur kept. Values are revealed here,
// for the request body only.
func payload(cur map[string]any, sel map[string]string, c provider.Credentials) map[string]any {
	if sel == nil {
		data := make(map[string]any, c.Len())
		for _, n := range c.Names() {
			data[n] = c.Get(n).Reveal()
		}
		return data
	}
	data := make(map[string]any, len(cur)+len(sel))
	maps.Copy(data, cur)
	for name, key := range sel {
		delete(data, key)
		if c.Has(name) {
			data[key] = c.Get(name).Reveal()
		}
	}
	return data
}

// writeResult is the outcome of one write.
type writeResult struct {
	kind        errKind
	err         error
	conflict    bool // check-and-set lost: the secret is at another version
	casRequired bool // written without check-and-set where it is required
}

// writeKV writes data as a new version of t's secret, with check-and-set
// at version cas when cas >= 0.
func (p *Provider) writeKV(ctx context.Context, t *kvTarget, data map[string]any, cas int) writeResult {
	body := map[string]any{"data": data}
	if cas >= 0 {
		body["options"] = map[string]any{"cas": cas}
	}
	_, err := p.client.Logical().WriteWithContext(ctx, t.dataPath(), body)
	clear(data)
	if err == nil {
		p.o.Logger.Info("vault: stored secret", "path", showPath(t.dataPath()))
		return writeResult{}
	}
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest && ctx.Err() == nil {
		switch {
		case vaultSays(re.Errors, casMismatch):
			return writeResult{conflict: true}
		case vaultSays(re.Errors, casRequired):
			return writeResult{casRequired: true}
		}
	}
	cl := classify(ctx, err)
	capability := "update"
	switch {
	case cas == 0:
		capability = "create"
	case cas < 0 && cl.kind == kindDenied:
		// Vault wants "create" for a path it does not hold yet and
		// "update" for one it does; ask which this is.
		capability = "create or update"
		if cur, _, err := p.readKV(ctx, t); err == nil {
			if cur.version == 0 {
				capability = "create"
			} else {
				capability = "update"
			}
		}
	}
	return writeResult{kind: cl.kind, err: p.toError(t.profile, t.dataPath(), capability, cl)}
}

// vaultSays reports whether one of Vault's error messages holds marker.
// The messages themselves are never shown: they can echo request data.
func vaultSays(msgs []string, marker string) bool {
	for _, m := range msgs {
		if strings.Contains(m, marker) {
			return true
		}
	}
	return false
}

func (p *Provider) conflict(t *kvTarget) error {
	return &provider.Error{Provider: Name, Profile: t.profile, Locator: showPath(t.dataPath()), Err: &storeError{msg: "the secret changed since it was read (check-and-set)", is: provider.ErrConflict}}
}

// storeError is a refused write: its message, and the sentinel callers
// branch on.
type storeError struct {
	msg string
	is  error
}

func (e *storeError) Error() string { return "vault: " + e.msg }
func (e *storeError) Unwrap() error { return e.is }

// showPath renders a Vault path for an error or a log line: segments that
// read as names ([provider.IsName]) as they are, others (a profile name or
// subject that may be a pasted secret) by their length only.
func showPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if !provider.IsName(s) {
			segs[i] = provider.Describe(s)
		}
	}
	return strings.Join(segs, "/")
}

// locate finds the mount serving ref and ref's path below it.
func (p *Provider) locate(ctx context.Context, profile string, ref Ref) (mountInfo, string, errKind, error) {
	mi, kind, err := p.mountFor(ctx, profile, ref)
	if err != nil {
		return mountInfo{}, "", kind, err
	}
	rel := ref.Path
	if ref.Mount == "" {
		rel = strings.TrimPrefix(strings.TrimPrefix(ref.Path, mi.mount), "/")
		if mi.engine == EngineKV2 {
			// A reference names exactly the API path it reads: on KV v2
			// that is MOUNT/data/PATH. Inserting data/ into a path written
			// without it would use a path the reference does not name.
			r, ok := strings.CutPrefix(rel, "data/")
			if !ok || r == "" {
				return mountInfo{}, "", kindNone, &provider.Error{Provider: Name, Profile: profile, Locator: showPath(ref.fullPath()), Err: &refPathError{mount: mi.mount}}
			}
			rel = r
		}
	}
	return mi, rel, kindNone, nil
}
