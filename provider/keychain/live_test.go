package keychain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	ss "github.com/zalando/go-keyring/secret_service"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// The tests in this file run against a real Secret Service, and only inside
// the throwaway session that .ci/keyring-tests.sh sets up (it exports
// MCPCRED_KEYRING_SANDBOX=1): some of them stop, freeze and restart the
// keyring daemon, which must never happen to a user's real keyring.

const howToStart = "keychain tests need a throwaway Secret Service: run .ci/keyring-tests.sh " +
	"(it installs gnome-keyring and dbus if missing, then runs these tests in dbus-run-session " +
	"with an unlocked gnome-keyring-daemon in temporary directories)"

func requireKeyring(t *testing.T) {
	t.Helper()
	if os.Getenv("MCPCRED_KEYRING_SANDBOX") != "1" {
		if os.Getenv("CI") == "true" {
			t.Fatal(howToStart)
		}
		t.Skip(howToStart)
	}
	waitService(t, New(), true)
}

// uniqueProfile returns a profile name no other test uses.
func uniqueProfile(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.ReplaceAll(t.Name(), "/", "."), time.Now().UnixNano())
}

// waitService waits until the Secret Service answers (up) or is gone.
func waitService(t *testing.T, p *Provider, up bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = p.get(ctx, "mcpcred-probe", "none")
		cancel()
		k, _ := p.classify(err, "", "")
		if up && k == kindNotFound || !up && k != kindNotFound && k != kindOK {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Secret Service did not become %s; last error: %v", map[bool]string{true: "available", false: "unavailable"}[up], err)
}

// busCall calls a method on the session bus over a private connection.
func busCall(t *testing.T, dest string, path dbus.ObjectPath, method string, args ...any) *dbus.Call {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("connect session bus: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Object(dest, path).CallWithContext(ctx, method, 0, args...)
}

// daemonPID returns the pid of the process owning org.freedesktop.secrets.
func daemonPID(t *testing.T) int {
	t.Helper()
	var pid uint32
	if err := busCall(t, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus.GetConnectionUnixProcessID", "org.freedesktop.secrets").Store(&pid); err != nil {
		t.Fatalf("no Secret Service owner: %v", err)
	}
	return int(pid)
}

// startDaemon starts (or replaces) the keyring daemon, unlocked with the
// sandbox's throwaway password, and waits until it answers.
func startDaemon(t *testing.T) {
	t.Helper()
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--replace", "--unlock", "--components=secrets")
	cmd.Stdin = strings.NewReader(os.Getenv("MCPCRED_KEYRING_TEST_PASSWORD"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	go cmd.Wait() // reap it whenever it exits; the test script stops the last one
	waitService(t, New(), true)
}

// stopDaemon terminates the daemon now serving the bus and waits for it to go.
func stopDaemon(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(daemonPID(t), syscall.SIGTERM); err != nil {
		t.Fatalf("stop daemon: %v", err)
	}
	waitService(t, New(), false)
}

func store(t *testing.T, p *Provider, profile string, fields map[string]string) {
	t.Helper()
	m := map[string]provider.Secret{}
	for k, v := range fields {
		m[k] = provider.NewSecret(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Store(ctx, profile, m); err != nil {
		t.Fatalf("Store(%q): %v", profile, err)
	}
}

func TestLiveConformance(t *testing.T) {
	requireKeyring(t)
	p := New()
	profile := uniqueProfile(t)
	store(t, p, profile, map[string]string{
		provider.FieldAccessKeyID:     "AKIAEXAMPLE0000001",
		provider.FieldSecretAccessKey: canary,
	})
	providertest.Run(t, p, providertest.Options{
		Profile:        profile,
		MissingProfile: profile + "-missing",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey},
		Secrets:        []string{canary},
	})
}

func TestLiveRoundTrip(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New(func(o *Options) { o.MaxValueBytes = 64 << 10 })
	values := map[string]string{
		"unicode":      "pässwörd-🔑-日本語-Ωμέγα",
		"binary":       "\x00\x01\x02\x7f\x80\xfe\xff",
		"newlines":     "line one\nline two\r\n",
		"spaces":       "  padded  ",
		"json":         `{"version":1,"fields":["x"]}`,
		"prefix":       "go-keyring-base64:Zm9v",
		"at_limit":     strings.Repeat("a", MaxValueBytes),
		"big_on_linux": strings.Repeat("b", 40<<10),
		"canary":       canary,
	}
	profile := uniqueProfile(t)
	store(t, p, profile, values)
	c, err := p.Retrieve(ctx, profile)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range values {
		if got := c.Value(k); got != want {
			t.Errorf("field %s: got %d bytes, want %d bytes (%q...)", k, len(got), len(want), got[:min(len(got), 20)])
		}
	}
	if c.Source.Provider != Name || c.Source.Locator != "mcpcred:"+profile || c.FetchedAt.IsZero() {
		t.Errorf("source/fetched = %v / %v", c.Source, c.FetchedAt)
	}
	providertest.CheckRendering(t, c, canary)

	// Update one field; the others stay.
	store(t, p, profile, map[string]string{"unicode": "v2"})
	if c, err = p.Retrieve(ctx, profile); err != nil || c.Value("unicode") != "v2" || c.Value("canary") != canary {
		t.Fatalf("after update: %v, %v", c, err)
	}
	names, err := p.Fields(ctx, profile)
	if err != nil || len(names) != len(values) {
		t.Fatalf("Fields = %v, %v", names, err)
	}
	profiles, err := p.Profiles(ctx)
	if err != nil || !contains(profiles, profile) {
		t.Fatalf("Profiles = %v, %v; want it to include %q", profiles, err, profile)
	}

	// Delete one field, then the whole profile.
	if err := p.DeleteFields(ctx, profile, "binary"); err != nil {
		t.Fatal(err)
	}
	if c, _ = p.Retrieve(ctx, profile); c.Has("binary") || !c.Has("json") {
		t.Fatalf("after deleting one field: %v", c)
	}
	if err := p.Delete(ctx, profile); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(ctx, profile); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after Delete: %v, want not found", err)
	}
	if err := p.DeleteFields(ctx, profile); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("second DeleteFields: %v, want not found", err)
	}
	if err := p.Delete(ctx, profile); err != nil {
		t.Fatalf("second Delete: %v, want nil", err)
	}
	if profiles, _ := p.Profiles(ctx); contains(profiles, profile) {
		t.Fatalf("deleted profile still listed: %v", profiles)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLiveSizeLimit(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New()
	profile := uniqueProfile(t)
	at := canary + strings.Repeat("x", MaxValueBytes-len(canary))
	store(t, p, profile, map[string]string{"token": at})
	over := at + "y"
	err := p.Store(ctx, profile, map[string]provider.Secret{"token": provider.NewSecret(over), "region": provider.NewSecret("eu-west-1")})
	var se *SizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) || se.Size != MaxValueBytes+1 || se.Limit != MaxValueBytes {
		t.Fatalf("Store over the limit: %v, want *SizeError{%d, %d}", err, MaxValueBytes+1, MaxValueBytes)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("size error reveals the value")
	}
	t.Logf("over the limit: %v", err)
	c, err := p.Retrieve(ctx, profile)
	if err != nil || c.Value("token") != at || c.Has("region") {
		t.Fatalf("after a refused Store the old value must be intact and nothing else written: %v, %v", c, err)
	}
}

// TestLiveInterop: an item made with secret-tool is found (by probing), and
// an item made by Store is readable with secret-tool.
func TestLiveInterop(t *testing.T) {
	requireKeyring(t)
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Skip("secret-tool not installed (apt-get install libsecret-tools)")
	}
	ctx := context.Background()
	p := New()
	profile := uniqueProfile(t)
	cmd := exec.Command("secret-tool", "store", "--label=mcpcred test", "service", "mcpcred:"+profile, "username", "token")
	cmd.Stdin = strings.NewReader(canary)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store: %v: %s", err, out)
	}
	c, err := p.Retrieve(ctx, profile)
	if err != nil || c.Value("token") != canary || c.Len() != 1 {
		t.Fatalf("Retrieve of a secret-tool item: %v, %v", c, err)
	}
	// Store another field: the hand-made one must stay visible once the
	// profile has an index.
	store(t, p, profile, map[string]string{"region": "eu-west-1"})
	if c, err = p.Retrieve(ctx, profile); err != nil || c.Value("token") != canary || c.Value("region") != "eu-west-1" {
		t.Fatalf("after Store: %v, %v", c, err)
	}
	out, err := exec.Command("secret-tool", "lookup", "service", "mcpcred:"+profile, "username", "region").Output()
	if err != nil || string(out) != "eu-west-1" {
		t.Fatalf("secret-tool lookup = %q, %v", out, err)
	}
	if err := p.Delete(ctx, profile); err != nil {
		t.Fatal(err)
	}
}

// TestLiveNoBus runs the provider in a child process with no D-Bus session
// bus at all, as on a headless machine or a CI runner without D-Bus.
func TestLiveNoBus(t *testing.T) {
	if os.Getenv("MCPCRED_KEYRING_NOBUS_CHILD") == "1" {
		start := time.Now()
		_, err := New().Retrieve(context.Background(), "default")
		fmt.Printf("elapsed=%v notfound=%v nokeyring=%v leak=%v err=%v\n", time.Since(start) < 2*time.Second,
			errors.Is(err, provider.ErrNotFound), errors.Is(err, ErrNoKeyring), strings.Contains(fmt.Sprint(err), canary), err)
		return
	}
	// No daemon needed: this runs everywhere.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLiveNoBus$")
	cmd.Env = []string{
		"MCPCRED_KEYRING_NOBUS_CHILD=1",
		"HOME=" + t.TempDir(),
		"XDG_RUNTIME_DIR=" + t.TempDir(),
		// No dbus-launch to autolaunch a bus with, even where dbus-x11 is installed.
		"PATH=/nonexistent",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "elapsed=true notfound=true nokeyring=true leak=false") {
		t.Fatalf("without a bus, Retrieve should be not found + ErrNoKeyring, fast:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// TestLiveDaemonStopped stops the Secret Service mid-test: a provider that
// has talked to it reports unavailable, a fresh one "no keyring" (not
// found), and both recover when it is restarted.
func TestLiveDaemonStopped(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New()
	profile := uniqueProfile(t)
	store(t, p, profile, map[string]string{"token": canary})

	stopDaemon(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			startDaemon(t)
		}
	})
	start := time.Now()
	_, err := p.Retrieve(ctx, profile)
	if !errors.Is(err, provider.ErrUnavailable) || !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("with the daemon stopped: %v, want unavailable + ErrNoKeyring", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	t.Logf("stopped, used provider: %v", err)
	_, err = New().Retrieve(ctx, profile)
	if !errors.Is(err, provider.ErrNotFound) || !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("fresh provider with the daemon stopped: %v, want not found + ErrNoKeyring", err)
	}
	t.Logf("stopped, fresh provider: %v", err)

	startDaemon(t)
	restarted = true
	c, err := p.Retrieve(ctx, profile)
	if err != nil || c.Value("token") != canary {
		t.Fatalf("after restart: %v, %v", c, err)
	}
}

// TestLiveDaemonFrozen freezes the daemon (SIGSTOP): calls get no reply.
// Callers must get unavailable by their deadline, stuck goroutines must stay
// within MaxInFlight, and everything must recover on SIGCONT.
func TestLiveDaemonFrozen(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New(func(o *Options) { o.MaxInFlight = 2; o.Timeout = 300 * time.Millisecond })
	profile := uniqueProfile(t)
	store(t, p, profile, map[string]string{"token": canary})

	pid := daemonPID(t)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	continued := false
	cont := func() {
		if !continued {
			continued = true
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(cont)

	for i := range 10 {
		start := time.Now()
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := p.Retrieve(dctx, fmt.Sprintf("%s-%d", profile, i))
		cancel()
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("call %d with the daemon frozen: %v, want unavailable", i, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("call %d took %v with a 200ms deadline", i, d)
		}
		if i == 0 {
			t.Logf("frozen: %v", err)
		}
	}
	// No deadline on ctx: Options.Timeout applies.
	start := time.Now()
	_, err := p.Retrieve(ctx, profile)
	if !errors.Is(err, provider.ErrUnavailable) || time.Since(start) > 2*time.Second {
		t.Fatalf("frozen, no ctx deadline: %v after %v", err, time.Since(start))
	}
	if n := p.lim.InFlight(); n > 2 {
		t.Fatalf("%d keyring calls in flight, want at most MaxInFlight=2", n)
	}
	t.Logf("frozen, no deadline (%v): %v; calls stuck in go-keyring: %d", time.Since(start).Round(time.Millisecond), err, p.lim.InFlight())

	cont()
	deadline := time.Now().Add(5 * time.Second)
	for p.lim.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.lim.InFlight(); n > 0 {
		t.Fatalf("%d calls still stuck after SIGCONT", n)
	}
	c, err := p.Retrieve(ctx, profile)
	if err != nil || c.Value("token") != canary {
		t.Fatalf("after SIGCONT: %v, %v", c, err)
	}
}

// TestLiveLocked locks the login collection over D-Bus: a read must come
// back unavailable, well before its deadline or at it, never hang.
func TestLiveLocked(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New()
	profile := uniqueProfile(t)
	store(t, p, profile, map[string]string{"token": canary})

	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := busCall(t, "org.freedesktop.secrets", "/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		[]dbus.ObjectPath{"/org/freedesktop/secrets/collection/login"}).Store(&locked, &prompt); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	t.Cleanup(func() { startDaemon(t) }) // a fresh daemon unlocks with the password
	t.Logf("locked %v (prompt %v)", locked, prompt)

	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := New().Retrieve(dctx, profile)
	if !errors.Is(err, provider.ErrUnavailable) || !(errors.Is(err, ErrLocked) || errors.Is(err, ErrTimeout)) {
		t.Fatalf("locked collection: %v, want unavailable (locked or timed out)", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("locked collection: took %v with a 2s deadline", d)
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatal("error reveals the secret")
	}
	t.Logf("locked (%v): %v", time.Since(start).Round(time.Millisecond), err)
}

// handMade creates a Secret Service item for (service, account) as another
// tool would, with an extra attribute so that several items can match the
// same service and account (CreateItem replaces an item only when every
// attribute is equal).
func handMade(t *testing.T, service, account, extra, value string) {
	t.Helper()
	svc, err := ss.NewSecretService()
	if err != nil {
		t.Fatal(err)
	}
	session, err := svc.OpenSession()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(session)
	attrs := map[string]string{"service": service, "username": account, "mcpcred-test": extra}
	if err := svc.CreateItem(svc.GetLoginCollection(), "mcpcred test "+extra, attrs, ss.NewSecret(session.Path(), value)); err != nil {
		t.Fatalf("create item: %v", err)
	}
}

// itemsOf counts the Secret Service items of service, as secret-tool search
// would list them.
func itemsOf(t *testing.T, service string) int {
	t.Helper()
	svc, err := ss.NewSecretService()
	if err != nil {
		t.Fatal(err)
	}
	items, err := svc.SearchItems(svc.GetLoginCollection(), map[string]string{"service": service})
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

// TestLiveDeleteLeavesNothing: on the real Secret Service, with items made
// by hand next to the ones Store made (duplicates of a field, a default
// field the index does not list, a name nothing lists), Delete returning nil
// means nothing of the profile resolves any more, whole or by #FIELD.
func TestLiveDeleteLeavesNothing(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	p := New()
	sc := Scheme()
	resolves := func(ref string) bool {
		t.Helper()
		_, err := schemeProvider(t, sc, ref).Retrieve(ctx, provider.DefaultProfile)
		if err != nil && !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("%s: %v", ref, err)
		}
		return err == nil
	}

	t.Run("whole profile", func(t *testing.T) {
		profile := uniqueProfile(t)
		service := "mcpcred:" + profile
		store(t, p, profile, map[string]string{"token": canary, "region": "eu-west-1"})
		handMade(t, service, "token", "dup", "old-token")
		handMade(t, service, provider.FieldAccessKeyID, "unlisted", "AKIAHANDMADE")
		handMade(t, service, "github_pat", "other", "ghp-handmade")
		if n := itemsOf(t, service); n != 6 {
			t.Fatalf("%d items before Delete, want 6", n)
		}
		if err := p.Delete(ctx, profile); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		for _, ref := range []string{"keychain:" + profile, "keychain:" + profile + "#token",
			"keychain:" + profile + "#access_key_id", "keychain:" + profile + "#github_pat", "keychain:" + profile + "#region"} {
			if resolves(ref) {
				t.Errorf("%s resolves after Delete", ref)
			}
		}
		if n := itemsOf(t, service); n != 0 {
			t.Errorf("%d items left under %s", n, service)
		}
		if err := p.DeleteFields(ctx, profile); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("second DeleteFields: %v, want not found", err)
		}
	})

	t.Run("duplicates without an index", func(t *testing.T) {
		profile := uniqueProfile(t)
		service := "mcpcred:" + profile
		handMade(t, service, "token", "a", "first")
		handMade(t, service, "token", "b", "second")
		if !resolves("keychain:" + profile) {
			t.Fatal("hand-made profile does not resolve")
		}
		if err := p.Delete(ctx, profile); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if resolves("keychain:"+profile) || resolves("keychain:"+profile+"#token") {
			t.Error("profile resolves after Delete")
		}
		if n := itemsOf(t, service); n != 0 {
			t.Errorf("%d items left under %s", n, service)
		}
	})

	t.Run("one field with duplicates", func(t *testing.T) {
		profile := uniqueProfile(t)
		service := "mcpcred:" + profile
		store(t, p, profile, map[string]string{"token": canary, "region": "eu-west-1"})
		handMade(t, service, "token", "dup", "old-token")
		if err := p.DeleteFields(ctx, profile, "token"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if resolves("keychain:" + profile + "#token") {
			t.Error("deleted field resolves")
		}
		c, err := p.Retrieve(ctx, profile)
		if err != nil || c.Len() != 1 || c.Value("region") != "eu-west-1" {
			t.Fatalf("rest of the profile: %v, %v", c.Names(), err)
		}
		if err := p.Delete(ctx, profile); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLiveSchemeFrozen freezes the daemon and sends references under many
// service prefixes and profiles through one Scheme: the calls stuck in
// go-keyring stay within the Scheme's Limiter, however many Providers
// it builds and drops, and all return once the daemon runs again.
func TestLiveSchemeFrozen(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	lim := NewLimiter(2)
	sc := Scheme(func(o *Options) { o.Limiter = lim; o.Timeout = 300 * time.Millisecond })
	pid := daemonPID(t)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	continued := false
	cont := func() {
		if !continued {
			continued = true
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(cont)

	var refs []string
	for i := range 20 {
		for j := range 2 {
			refs = append(refs, fmt.Sprintf("keychain:frozen%d/p%d", i, j), fmt.Sprintf("keychain:frozen%d/p%d#token", i, j))
		}
	}
	var wg sync.WaitGroup
	for _, ref := range refs {
		p := schemeProvider(t, sc, ref)
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			if _, err := p.Retrieve(dctx, provider.DefaultProfile); !errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("%v with the daemon frozen: %v, want unavailable", ref, err)
			}
		})
	}
	wg.Wait()
	if n := lim.InFlight(); n > 2 {
		t.Fatalf("%d keyring calls in flight across %d references, want at most MaxInFlight=2", n, len(refs))
	}
	t.Logf("%d references under 20 prefixes: %d calls stuck in go-keyring", len(refs), lim.InFlight())

	cont()
	deadline := time.Now().Add(5 * time.Second)
	for lim.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := lim.InFlight(); n > 0 {
		t.Fatalf("%d calls still stuck after SIGCONT", n)
	}
}
