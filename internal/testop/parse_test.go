package testop_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/internal/testop"
)

func TestParseUsers(t *testing.T) {
	data, err := os.ReadFile("testdata/users.json")
	if err != nil {
		t.Fatal(err)
	}
	us, err := testop.ParseUsers(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []testop.User{
		{Subject: "alice", Username: "alice", Password: "pw-alice", Groups: []string{"sre", "dev"}},
		{Subject: "bob", Username: "bob@example.com", Password: "pw-bob"},
	}
	if !reflect.DeepEqual(us, want) {
		t.Errorf("got %+v", us)
	}
	const canary = "CANARY-9f3b"
	for _, tc := range []string{
		`[{"subject":"a","username":"u","password":"p","extra":"` + canary + `"}]`,
		`[{"subject":"a","username":"u","password":"p","` + canary + `":1}]`,
		`[{"subject":"a","username":"` + canary + `"}]`,
		`[{"subject":"a","username":"u","password":"p"},{"subject":"b","username":"u","password":"` + canary + `"}]`,
		`[{"subject":"a","username":"u","password":"p"},{"subject":"a","username":"v","password":"` + canary + `"}]`,
		`[{"subject":"a","username":"u","password":` + "1" + `}]`,
		`[{"subject":"` + canary,
		`{"subject":"` + canary + `"}`,
		`[] ["` + canary + `"]`,
		`"` + canary + `"`,
		``,
	} {
		_, err := testop.ParseUsers([]byte(tc))
		if err == nil {
			t.Errorf("ParseUsers(%s) accepted", tc)
		} else if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), `"`) {
			t.Errorf("error shows the input: %v", err)
		}
	}
}

func TestParseWebClients(t *testing.T) {
	data, err := os.ReadFile("testdata/web_clients.json")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := testop.ParseWebClients(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []testop.WebClient{
		{ID: "mcp-enroll", Secret: "s3cret", RedirectURIs: []string{"http://127.0.0.1:8080/enroll/callback"}},
		{ID: "third-party", Secret: "s3cret", RedirectURIs: []string{"http://127.0.0.1:8080/enroll/connected"}, AccessTokenLifetime: 2 * time.Second, Audience: []string{"https://api.example"}},
		{ID: "native", RedirectURIs: []string{"http://127.0.0.1/callback"}, AccessTokenLifetime: 90 * time.Second},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got %+v", cs)
	}
	const canary = "CANARY-9f3b"
	for _, tc := range []string{
		`[{"id":"w","redirect_uris":["https://rp/cb"],"access_token_lifetime":"` + canary + `"}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb"],"access_token_lifetime":"1s","lifetime":"2s"}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb"],"redirectURIs":["` + canary + `"]}]`,
		`[{"id":"w","redirect_uris":["` + canary + `"]}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb#` + canary + `"]}]`,
		`[{"id":"w","secret":"` + canary + `"}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb"]},{"id":"w","redirect_uris":["https://rp/` + canary + `"]}]`,
		`[{"id":"w","redirect_uris":"` + canary + `"}]`,
		`[{"id":"w","access_token_lifetime":2}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb"],"access_token_lifetime":"1999ms"}]`,
		`[{"id":"w","redirect_uris":["https://rp/cb"],"access_token_lifetime":"-1m"}]`,
		`[{"id":"` + canary,
		`null x`,
		``,
	} {
		_, err := testop.ParseWebClients([]byte(tc))
		if err == nil {
			t.Errorf("ParseWebClients(%s) accepted", tc)
		} else if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), `"`) {
			t.Errorf("error shows the input: %v", err)
		}
	}
}

// FuzzParseUsers: what parses is valid and survives a round trip through
// JSON; errors never quote the input.
func FuzzParseUsers(f *testing.F) {
	if data, err := os.ReadFile("testdata/users.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`[{"subject":"a","username":"u","password":"p","groups":[]}]`))
	f.Add([]byte(`[{"subject":"a","username":"u","password":"p","x":1}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		us, err := testop.ParseUsers(data)
		if err != nil {
			if strings.Contains(err.Error(), `"`) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		for _, u := range us {
			if u.Subject == "" || u.Username == "" || u.Password == "" || (u.Groups != nil && len(u.Groups) == 0) {
				t.Fatalf("invalid user accepted: %+v", u)
			}
		}
		b, err := json.Marshal(us)
		if err != nil {
			t.Fatal(err)
		}
		again, err := testop.ParseUsers(b)
		if err != nil || !reflect.DeepEqual(again, us) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, us, again)
		}
	})
}

// FuzzParseWebClients: what parses is valid and survives a round trip
// through WebClient's JSON; errors never quote the input.
func FuzzParseWebClients(f *testing.F) {
	if data, err := os.ReadFile("testdata/web_clients.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`[{"id":"w","redirect_uris":["https://rp/cb"],"lifetime":"1h2m3.5s","audience":[]}]`))
	f.Add([]byte(`[{"id":"w","redirect_uris":["http://[::1]:80/cb?x=1"],"access_token_lifetime":"2s"}]`))
	f.Add([]byte(`[{"id":"w","redirect_uris":["https://rp/cb"],"access_token_lifetime":"1s","lifetime":"2s"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := testop.ParseWebClients(data)
		if err != nil {
			if strings.Contains(err.Error(), `"`) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		for _, c := range cs {
			if c.ID == "" || len(c.RedirectURIs) == 0 || (c.Audience != nil && len(c.Audience) == 0) ||
				(c.AccessTokenLifetime != 0 && c.AccessTokenLifetime < 2*time.Second) {
				t.Fatalf("invalid client accepted: %+v", c)
			}
		}
		b, err := json.Marshal(cs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := testop.ParseWebClients(b)
		if err != nil || !reflect.DeepEqual(again, cs) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, cs, again)
		}
	})
}
