package keychain

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
	"golang.org/x/sync/singleflight"

	"github.com/mcpcred/mcpcred/provider"
)

// Keyring is the keyring the provider talks to: the subset of
// github.com/zalando/go-keyring's Keyring interface it uses. Its methods may
// block for ever; the provider bounds them (see "Deadlines" in the package
// doc). Implementations must be safe for concurrent use and must return an
// error wrapping keyring.ErrNotFound (github.com/zalando/go-keyring) for a
// missing item. Delete may remove only one of several items that match
// (service, account); the provider repeats it until the item is gone.
//
// A Keyring that also has go-keyring's method
//
//	DeleteAll(service string) error
//
// (removing every item of service, and returning nil when there is none)
// lets [Provider.Delete] remove a profile's items under names that neither
// its index nor the probed field names list. The OS keyring has it.
type Keyring interface {
	Get(service, account string) (string, error)
	Set(service, account, value string) error
	Delete(service, account string) error
}

// serviceDeleter is the optional DeleteAll of a [Keyring].
type serviceDeleter interface {
	DeleteAll(service string) error
}

// osKeyring is the OS keyring through go-keyring's package functions.
type osKeyring struct{}

func (osKeyring) Get(service, account string) (string, error) { return keyring.Get(service, account) }
func (osKeyring) Set(service, account, value string) error {
	return keyring.Set(service, account, value)
}
func (osKeyring) Delete(service, account string) error { return keyring.Delete(service, account) }
func (osKeyring) DeleteAll(service string) error       { return keyring.DeleteAll(service) }

// errPanic stands in for a panic inside the keyring library.
var errPanic = errors.New("keychain: keyring library panicked")

// run calls fn on its own goroutine and waits for it or for ctx. At most
// p.lim.Limit() calls run at once across every Provider sharing p.lim; a
// call that never returns keeps its slot.
// When shared is true, concurrent calls with the same key share one call.
func (p *Provider) run(ctx context.Context, key string, shared bool, fn func() (string, error)) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	work := func() (v any, err error) {
		t := time.NewTimer(p.opts.Timeout)
		defer t.Stop()
		select {
		case p.lim.slots <- struct{}{}:
		case <-t.C:
			return "", ErrBusy
		}
		defer func() { <-p.lim.slots }()
		defer func() {
			if r := recover(); r != nil {
				v, err = "", errPanic
			}
		}()
		return fn()
	}
	var ch <-chan singleflight.Result
	if shared {
		ch = p.flights.DoChan(key, work)
	} else {
		c := make(chan singleflight.Result, 1)
		go func() {
			v, err := work()
			c <- singleflight.Result{Val: v, Err: err}
		}()
		ch = c
	}
	select {
	case r := <-ch:
		s, _ := r.Val.(string)
		return s, r.Err
	case <-ctx.Done():
		if shared {
			// The call may never return; let the next caller start afresh
			// (bounded by the slots) instead of joining it.
			p.flights.Forget(key)
		}
		return "", ctx.Err()
	}
}

type kind int

const (
	kindOK kind = iota
	kindNotFound
	kindNoKeyring
	kindUnavailable
	kindTooLarge
	kindCanceled
)

// classify sorts an error from the keyring (or from run) and returns the
// error to report: a *provider.Error with a message that never contains a
// value. values are scrubbed from any backend message that is kept.
func (p *Provider) classify(err error, profile, locator string, values ...string) (kind, error) {
	if err == nil {
		p.seen.Store(true)
		return kindOK, nil
	}
	pe := func(e error) error {
		return &provider.Error{Provider: Name, Profile: profile, Locator: locator, Err: e}
	}
	var de dbus.Error
	var pde *dbus.Error
	var ee *exec.Error
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		p.seen.Store(true)
		return kindNotFound, pe(wrapMsg("keychain: no such item", provider.ErrNotFound))
	case errors.Is(err, context.Canceled):
		return kindCanceled, pe(fmt.Errorf("keychain: %w", err))
	case errors.Is(err, context.DeadlineExceeded):
		return kindUnavailable, pe(wrapMsg(fmt.Sprintf("keychain: keyring did not answer within the deadline (a locked keyring waiting on an unlock prompt, or a D-Bus/keyring daemon that does not respond); per-call default %v", p.opts.Timeout),
			provider.ErrUnavailable, ErrTimeout, err))
	case errors.Is(err, ErrBusy):
		return kindUnavailable, pe(wrapMsg(fmt.Sprintf("keychain: %d earlier keyring calls have not returned (keyring not answering); not starting another", p.lim.Limit()),
			provider.ErrUnavailable, ErrBusy))
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return kindTooLarge, pe(wrapMsg("keychain: the OS keychain refused the value as too large", ErrTooLarge))
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return kindNoKeyring, pe(wrapMsg("keychain: go-keyring has no keychain on this platform", provider.ErrNotFound, ErrNoKeyring))
	case errors.Is(err, errPanic):
		return kindUnavailable, pe(wrapMsg("keychain: the keyring library panicked (D-Bus connection lost?)", provider.ErrUnavailable, errPanic))
	case errors.As(err, &de) || errors.As(err, &pde):
		if pde != nil {
			de = *pde
		}
		switch de.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
			return p.noKeyring(pe, "keychain: no Secret Service on the D-Bus session bus (org.freedesktop.secrets is not running and cannot be activated; start gnome-keyring-daemon or KeePassXC)")
		case "org.freedesktop.Secret.Error.IsLocked":
			return kindUnavailable, pe(wrapMsg("keychain: the Secret Service collection is locked", provider.ErrUnavailable, ErrLocked))
		}
		return kindUnavailable, pe(wrapMsg("keychain: D-Bus error "+de.Name, provider.ErrUnavailable))
	case errors.As(err, &ee) && strings.Contains(ee.Name, "dbus-launch"),
		strings.Contains(err.Error(), "couldn't determine address of session bus"):
		return p.noKeyring(pe, "keychain: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist), so no Secret Service")
	case strings.Contains(err.Error(), "failed to unlock correct collection"):
		return kindUnavailable, pe(wrapMsg("keychain: the keyring is locked and could not be unlocked (no unlock prompt could be shown, or it was dismissed)", provider.ErrUnavailable, ErrLocked))
	case errors.Is(err, dbus.ErrClosed):
		return kindUnavailable, pe(wrapMsg("keychain: the D-Bus connection is closed", provider.ErrUnavailable))
	}
	// Anything else comes from the OS layer (a dial error, a macOS
	// `security` exit status, a Windows error code): the keychain cannot be
	// used now. Keep the message, minus any value we handed over.
	msg := err.Error()
	for _, v := range values {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, provider.Redacted)
		}
	}
	if p.seen.Load() || !looksLikeNoBus(msg) {
		return kindUnavailable, pe(wrapMsg("keychain: keyring error: "+msg, provider.ErrUnavailable))
	}
	return p.noKeyring(pe, "keychain: cannot connect to the D-Bus session bus: "+msg)
}

// noKeyring reports the absence of a keyring service: "nothing here" until
// the service has answered once, "unavailable" afterwards.
func (p *Provider) noKeyring(pe func(error) error, msg string) (kind, error) {
	if p.seen.Load() {
		return kindUnavailable, pe(wrapMsg(msg+" (it answered earlier)", provider.ErrUnavailable, ErrNoKeyring))
	}
	return kindNoKeyring, pe(wrapMsg(msg, provider.ErrNotFound, ErrNoKeyring))
}

// looksLikeNoBus reports whether msg is a failure to dial the bus socket.
func looksLikeNoBus(msg string) bool {
	return strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "connection refused")
}
