package keychain

import (
	"strconv"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

// Requests choose references: the Providers the keychain scheme keeps stay
// bounded however many service prefixes references name.
func TestSchemeServicesAreBounded(t *testing.T) {
	sc := Scheme().(*scheme)
	for i := range 10 * maxSchemeServices {
		ref, err := provider.ParseRef("keychain:svc" + strconv.Itoa(i) + "/ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Open(ref); err != nil {
			t.Fatal(err)
		}
		sc.mu.Lock()
		n := len(sc.byService)
		sc.mu.Unlock()
		if n > maxSchemeServices {
			t.Fatalf("%d Providers kept after %d prefixes; the bound is %d", n, i+1, maxSchemeServices)
		}
	}
}
