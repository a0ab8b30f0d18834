package keychain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/provider"
)

const canary = "CANARY-SECRET-d3adb33f"

func TestValidProfile(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"default", true},
		{"prod/us-east-1", true},
		{"work.eu", true},
		{"日本", true},
		{"", false},
		{"a:b", false},
		{"has space", false},
		{"tab\there", false},
		{"nl\n", false},
		{strings.Repeat("x", MaxProfileLen), true},
		{strings.Repeat("x", MaxProfileLen+1), false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if got := validProfile(tt.in) == ""; got != tt.ok {
			t.Errorf("validProfile(%q) ok = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestValidField(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"access_key_id", true},
		{"API_KEY", true},
		{"db.password-2", true},
		{"9lives", true},
		{"", false},
		{"_fields", false},
		{"_profiles", false},
		{".hidden", false},
		{"-x", false},
		{"a:b", false},
		{"token=abc", false},
		{"sp ace", false},
		{"ü", false},
		{strings.Repeat("f", MaxFieldLen), true},
		{strings.Repeat("f", MaxFieldLen+1), false},
	}
	for _, tt := range tests {
		if got := validField(tt.in) == ""; got != tt.ok {
			t.Errorf("validField(%q) ok = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestParseFieldIndex(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`{"version":1,"fields":["b","a","a"]}`, []string{"a", "b"}, false},
		{`{"version":1}`, []string{}, false},
		{` {"version":1,"fields":["token"]} `, []string{"token"}, false},
		{`{"version":2,"fields":["a"]}`, nil, true},
		{`{"version":1,"fields":["bad name"]}`, nil, true},
		{`{"version":1,"fields":["_fields"]}`, nil, true},
		{`{"version":1,"extra":1}`, nil, true},
		{`{"version":1}{"version":1}`, nil, true},
		{`["a"]`, nil, true},
		{canary, nil, true},
		{``, nil, true},
	}
	for _, tt := range tests {
		got, err := parseFieldIndex(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFieldIndex(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadIndex) {
				t.Errorf("parseFieldIndex(%q) error %v does not wrap ErrBadIndex", tt.in, err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error quotes input: %v", err)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parseFieldIndex(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got, err := parseFieldIndex(encodeFieldIndex([]string{"z", "a", "z"})); err != nil || fmt.Sprint(got) != "[a z]" {
		t.Errorf("round trip = %v, %v", got, err)
	}
	if got, err := parseProfileIndex(encodeProfileIndex([]string{"work", "default"})); err != nil || fmt.Sprint(got) != "[default work]" {
		t.Errorf("profile round trip = %v, %v", got, err)
	}
	if _, err := parseProfileIndex(`{"version":1,"profiles":["a:b"]}`); !errors.Is(err, ErrBadIndex) {
		t.Errorf("profile index with a bad name: %v", err)
	}
}

// noCallKeyring fails the test if the provider touches the keyring.
type noCallKeyring struct{ t *testing.T }

func (k noCallKeyring) Get(string, string) (string, error) {
	k.t.Error("unexpected keyring Get")
	return "", keyring.ErrNotFound
}
func (k noCallKeyring) Set(string, string, string) error {
	k.t.Error("unexpected keyring Set")
	return nil
}
func (k noCallKeyring) Delete(string, string) error {
	k.t.Error("unexpected keyring Delete")
	return nil
}

// TestStoreRejectsBeforeWriting checks that bad input fails before any
// keyring call, with the right sentinel and without the value in the text.
func TestStoreRejectsBeforeWriting(t *testing.T) {
	p := New(func(o *Options) { o.Keyring = noCallKeyring{t} })
	big := canary + strings.Repeat("x", MaxValueBytes+1-len(canary))
	tests := []struct {
		name    string
		profile string
		fields  map[string]string
		want    error
	}{
		{"over limit", "p", map[string]string{"token": big}, ErrTooLarge},
		{"empty value", "p", map[string]string{"token": ""}, ErrEmptyValue},
		{"no fields", "p", nil, ErrEmptyValue},
		{"bad field", "p", map[string]string{"token=" + canary: "v"}, ErrInvalidName},
		{"reserved field", "p", map[string]string{FieldsAccount: canary}, ErrInvalidName},
		{"bad profile", "a:b", map[string]string{"token": canary}, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]provider.Secret{}
			for k, v := range tt.fields {
				fields[k] = provider.NewSecret(v)
			}
			if tt.fields == nil {
				fields = nil
			}
			err := p.Store(context.Background(), tt.profile, fields)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Store error = %v, want %v", err, tt.want)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), canary) {
				t.Fatalf("error reveals the value: %v", err)
			}
			var se *SizeError
			if errors.As(err, &se) && (se.Size != len(big) || se.Limit != MaxValueBytes) {
				t.Fatalf("SizeError = %+v", se)
			}
		})
	}
}

// blockingKeyring blocks every Get until release is closed, counting how
// many run at once; it stands in for a keyring that stops answering.
type blockingKeyring struct {
	release chan struct{}
	running atomic.Int32
	max     atomic.Int32
	calls   atomic.Int32
}

func (k *blockingKeyring) Get(string, string) (string, error) {
	n := k.running.Add(1)
	defer k.running.Add(-1)
	k.calls.Add(1)
	for {
		m := k.max.Load()
		if n <= m || k.max.CompareAndSwap(m, n) {
			break
		}
	}
	<-k.release
	return "", keyring.ErrNotFound
}
func (k *blockingKeyring) Set(string, string, string) error { return nil }
func (k *blockingKeyring) Delete(string, string) error      { return nil }

// TestBoundedCalls checks the deadline and the bound on stuck goroutines.
func TestBoundedCalls(t *testing.T) {
	kr := &blockingKeyring{release: make(chan struct{})}
	p := New(func(o *Options) {
		o.Keyring = kr
		o.MaxInFlight = 3
		o.Timeout = 200 * time.Millisecond
	})
	var wg sync.WaitGroup
	errs := make([]error, 40)
	start := time.Now()
	for i := range errs {
		wg.Go(func() {
			// Ten profiles, four callers each: same-item reads share a call.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, errs[i] = p.Retrieve(ctx, fmt.Sprintf("p%d", i%10))
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Retrieve calls took %v with a 100ms deadline", d)
	}
	for i, err := range errs {
		if !errors.Is(err, provider.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
			t.Fatalf("caller %d: error %v, want unavailable wrapping DeadlineExceeded and ErrTimeout", i, err)
		}
	}
	if m := kr.max.Load(); m > 3 {
		t.Fatalf("%d keyring calls ran at once, want at most MaxInFlight=3", m)
	}
	// With every slot stuck, a call with no deadline gets ErrBusy after
	// Options.Timeout instead of starting another goroutine in the keyring.
	_, err := p.Retrieve(context.Background(), "other")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Retrieve with stuck slots: %v, want unavailable", err)
	}
	t.Logf("with stuck slots: %v", err)
	if m := kr.max.Load(); m > 3 {
		t.Fatalf("%d keyring calls ran at once", m)
	}
	// The keyring answers again: the stuck calls return, slots free up.
	close(kr.release)
	deadline := time.Now().Add(2 * time.Second)
	for p.lim.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := p.Retrieve(context.Background(), "p1"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after recovery: %v, want not found", err)
	}
}

// TestNoKeyringClassification checks both readings of "service absent".
func TestNoKeyringClassification(t *testing.T) {
	p := New()
	noBus := errors.New("dbus: couldn't determine address of session bus")
	k, err := p.classify(noBus, "p", "loc")
	if k != kindNoKeyring || !errors.Is(err, provider.ErrNotFound) || !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("before contact: kind %v, err %v; want not found + ErrNoKeyring", k, err)
	}
	p.classify(keyring.ErrNotFound, "p", "loc") // the service answered once
	k, err = p.classify(noBus, "p", "loc")
	if k != kindUnavailable || !errors.Is(err, provider.ErrUnavailable) || !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("after contact: kind %v, err %v; want unavailable + ErrNoKeyring", k, err)
	}
	// Values handed to the keyring are scrubbed from backend messages.
	_, err = p.classify(errors.New("weird failure near "+canary), "p", "loc", canary)
	if strings.Contains(err.Error(), canary) || !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("scrubbed error = %v", err)
	}
}

func TestLoggerNeverLogsValues(t *testing.T) {
	var buf bytes.Buffer
	kr := newMemKeyring()
	p := New(func(o *Options) {
		o.Keyring = kr
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	if err := p.Store(ctx, "p", map[string]provider.Secret{"token": provider.NewSecret(canary)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Retrieve(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 || strings.Contains(buf.String(), canary) {
		t.Fatalf("log output (%d bytes) empty or reveals the canary", buf.Len())
	}
}

// memKeyring is an in-memory keyring for tests of the provider's own logic
// (the real Secret Service is exercised in live_test.go).
type memKeyring struct {
	mu sync.Mutex
	m  map[[2]string]string
}

func newMemKeyring() *memKeyring { return &memKeyring{m: map[[2]string]string{}} }

func (k *memKeyring) Get(s, a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[[2]string{s, a}]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}
func (k *memKeyring) Set(s, a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[[2]string{s, a}] = v
	return nil
}
func (k *memKeyring) Delete(s, a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[[2]string{s, a}]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.m, [2]string{s, a})
	return nil
}

// truncatingKeyring keeps only the first 10 bytes, like a keychain that
// silently truncates: Store must notice on read-back.
type truncatingKeyring struct{ *memKeyring }

func (k truncatingKeyring) Set(s, a, v string) error {
	return k.memKeyring.Set(s, a, v[:min(len(v), 10)])
}

func TestStoreReadBack(t *testing.T) {
	p := New(func(o *Options) { o.Keyring = truncatingKeyring{newMemKeyring()} })
	err := p.Store(context.Background(), "p", map[string]provider.Secret{"token": provider.NewSecret(canary)})
	if !errors.Is(err, ErrReadBack) || strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), canary[:10]) {
		t.Fatalf("Store on a truncating keyring: %v, want ErrReadBack without the value", err)
	}
}

func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"fields":["a","b"]}`,
		`{"version":1,"profiles":["default"]}`,
		`{"version":1}`, `{}`, `[]`, `null`, `{"version":1,"fields":[1]}`, canary,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) ([]string, error){parseFieldIndex, parseProfileIndex} {
			// An index item may hold anything, even a secret pasted into the
			// wrong item: no error may quote it.
			for _, in := range []string{canary + s, s + canary, s[:len(s)/2] + canary + s[len(s)/2:]} {
				if _, err := parse(in); err != nil && strings.Contains(err.Error(), canary) {
					t.Fatalf("error quotes its input: %v", err)
				}
			}
			names, err := parse(s)
			if err != nil {
				if !errors.Is(err, ErrBadIndex) {
					t.Fatalf("error %v does not wrap ErrBadIndex", err)
				}
				continue
			}
			for _, n := range names {
				if validField(n) != "" && validProfile(n) != "" {
					t.Fatalf("parser accepted invalid name %q", n)
				}
			}
		}
	})
}
