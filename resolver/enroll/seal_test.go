package enroll

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	newKey  = []byte("fedcba9876543210fedcba9876543210")
)

type sealed struct {
	A string `json:"a"`
}

// TestSeal: a value opens for its purpose until its expiry, and never for
// another purpose, with another key, or altered in any byte.
func TestSeal(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, err := newSealer(testKey, nil, func() time.Time { return now })
	require.NoError(t, err)
	text, err := s.sealValue(purposeTicket, now.Add(time.Minute), sealed{"x"})
	require.NoError(t, err)

	var v sealed
	exp, err := s.openValue(purposeTicket, text, &v)
	require.NoError(t, err)
	assert.Equal(t, "x", v.A)
	assert.Equal(t, now.Add(time.Minute), exp)

	for _, p := range purposes[1:] {
		_, err := s.openValue(p, text, &v)
		assert.ErrorIs(t, err, errSealed, p)
	}
	other, _ := newSealer(newKey, nil, func() time.Time { return now })
	_, err = other.openValue(purposeTicket, text, &v)
	assert.ErrorIs(t, err, errSealed)

	raw, _ := base64.RawURLEncoding.DecodeString(text)
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x40
		_, err := s.openValue(purposeTicket, base64.RawURLEncoding.EncodeToString(b), &v)
		assert.ErrorIs(t, err, errSealed, "byte %d", i)
	}
	for _, bad := range []string{"", "!!!", text[:len(text)-1], text + "A", text + "=", string(make([]byte, maxSealed+1))} {
		_, err := s.openValue(purposeTicket, bad, &v)
		assert.ErrorIs(t, err, errSealed)
	}

	later, _ := newSealer(testKey, nil, func() time.Time { return now.Add(time.Minute) })
	_, err = later.openValue(purposeTicket, text, &v)
	assert.ErrorIs(t, err, errExpired)
}

// TestSealKeyRotation: OldKeys open what they sealed; the new key seals;
// a key dropped from OldKeys opens nothing more.
func TestSealKeyRotation(t *testing.T) {
	now := time.Now
	old, _ := newSealer(testKey, nil, now)
	text, err := old.sealValue(purposeSession, time.Now().Add(time.Hour), sealed{"y"})
	require.NoError(t, err)
	rotated, err := newSealer(newKey, [][]byte{testKey}, now)
	require.NoError(t, err)
	var v sealed
	_, err = rotated.openValue(purposeSession, text, &v)
	require.NoError(t, err)
	fresh, _ := rotated.sealValue(purposeSession, time.Now().Add(time.Hour), sealed{"z"})
	_, err = old.openValue(purposeSession, fresh, &v)
	assert.ErrorIs(t, err, errSealed, "sealed with the new key")
	dropped, _ := newSealer(newKey, nil, now)
	_, err = dropped.openValue(purposeSession, text, &v)
	assert.ErrorIs(t, err, errSealed)

	_, err = newSealer(testKey[:31], nil, now)
	assert.Error(t, err)
	_, err = newSealer(testKey, [][]byte{testKey[:8]}, now)
	assert.Error(t, err)
}

// FuzzOpen: whatever text arrives as a ticket or cookie, opening it never
// panics, and only what was sealed opens.
func FuzzOpen(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	s, err := newSealer(testKey, [][]byte{newKey}, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	want := ticket{ID: "0123456789abcdef0123456789abcdef", Issuer: "https://i", Subject: "s", Profile: "p"}
	good, _ := s.sealValue(purposeTicket, now.Add(time.Hour), want)
	f.Add(good)
	f.Add("")
	f.Add("AQ")
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range purposes {
			var tk ticket
			_, err := s.openValue(p, text, &tk)
			// The only values sealed with these keys are tickets like
			// want (the corpus's, sealed by whichever process ran first).
			if err == nil && (p != purposeTicket || tk.ID != want.ID || tk.Subject != want.Subject || tk.Profile != want.Profile) {
				t.Fatalf("opened a value that was never sealed for %s", p)
			}
			if err != nil && !errors.Is(err, errSealed) && !errors.Is(err, errExpired) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
