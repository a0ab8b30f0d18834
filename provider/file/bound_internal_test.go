package file

import (
	"strconv"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
)

// Requests choose references: the Providers the file scheme keeps stay
// bounded however many distinct files references name.
func TestSchemeFilesAreBounded(t *testing.T) {
	sc := Scheme(func(o *Options) { o.UserHomeDir = func() (string, error) { return t.TempDir(), nil } }).(*scheme)
	for i := range 10 * maxSchemeFiles {
		ref, err := provider.ParseRef("file:/nonexistent/creds-" + strconv.Itoa(i) + "?profile=ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Open(ref); err != nil {
			t.Fatal(err)
		}
		sc.mu.Lock()
		n := len(sc.files)
		sc.mu.Unlock()
		if n > maxSchemeFiles {
			t.Fatalf("%d Providers kept after %d files; the bound is %d", n, i+1, maxSchemeFiles)
		}
	}
}
