package enroll

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpcred/mcpcred/provider"
)

// BenchmarkTicket is what a link costs: sealing a ticket (Enroll) and
// opening it (every page of the flow), AES-256-GCM under an HKDF key.
func BenchmarkTicket(b *testing.B) {
	s, err := newSealer(bytes.Repeat([]byte{1}, 32), nil, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	t := ticket{ID: "0123456789abcdef0123456789abcdef", Issuer: "https://idp.example.com", Subject: "alice", Profile: "default"}
	exp := time.Now().Add(10 * time.Minute)
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.sealValue(purposeTicket, exp, t); err != nil {
				b.Fatal(err)
			}
		}
	})
	text, _ := s.sealValue(purposeTicket, exp, t)
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got ticket
			if _, err := s.openValue(purposeTicket, text, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshServe is the cost Refresh adds to reading an
// OAuth-connected credential that is not due (the common case), beside
// the bare store read.
func BenchmarkRefreshServe(b *testing.B) {
	ms := newMapStore()
	ms.m["users/sub-alice"] = provider.NewCredentials(map[string]string{
		"token": "access-0123456789", "refresh_token": "refresh-0123456789", "token_type": "Bearer",
		"expiry": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "oauth_client": "thirdparty",
	}, provider.Source{})
	client := &OAuth{Name: "thirdparty", Config: &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: "http://127.0.0.1:1/token"}}}
	ref, _ := provider.ParseRef("mem:users/sub-alice")
	for _, bc := range []struct {
		name   string
		scheme provider.Scheme
	}{{"store", ms.scheme()}, {"refresh", Refresh(ms.scheme(), []*OAuth{client})}} {
		t, err := bc.scheme.Open(ref)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := t.Provider.Retrieve(context.Background(), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
