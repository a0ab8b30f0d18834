package encfile_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

// exampleDir returns a private directory for the examples.
func exampleDir() string {
	root, err := os.MkdirTemp("", "encfile-example")
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(root, "users")
}

// A server stores, refreshes and removes a credential.
func ExampleNew() {
	ctx := context.Background()
	dir := exampleDir()
	defer os.RemoveAll(filepath.Dir(dir))

	key := make([]byte, encfile.KeySize) // in production: 32 random bytes, from MCPCRED_ENCFILE_KEY
	store, err := encfile.New(func(o *encfile.Options) { o.Dir, o.Key = dir, key })
	if err != nil {
		log.Fatal(err)
	}
	old := provider.NewCredentials(map[string]string{"token": "at-1", "refresh_token": "rt-1"}, provider.Source{})
	if err := store.Put(ctx, "sub-alice", old); err != nil { // makes dir, mode 0700
		log.Fatal(err)
	}
	// Two replicas refresh at once: the first swap wins, the second conflicts.
	next := provider.NewCredentials(map[string]string{"token": "at-2", "refresh_token": "rt-2"}, provider.Source{})
	fmt.Println(store.CompareAndSwap(ctx, "sub-alice", old, next))
	fmt.Println(store.CompareAndSwap(ctx, "sub-alice", old, next) != nil)

	c, err := store.Retrieve(ctx, "sub-alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Names(), c.Value("token"))
	fmt.Println(store.Delete(ctx, "sub-alice"))
	// Output:
	// <nil>
	// true
	// [refresh_token token] at-2
	// <nil>
}

// A profiles file's source names a file per user; the scheme serves it.
func ExampleScheme() {
	ctx := context.Background()
	dir := exampleDir()
	defer os.RemoveAll(filepath.Dir(dir))

	var s provider.Schemes
	s.Register("encfile", encfile.Scheme(func(o *encfile.Options) { o.Key = make([]byte, encfile.KeySize) }))
	st, ref, err := s.Store("encfile:" + dir + "/sub-alice")
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Put(ctx, "", provider.NewCredentials(map[string]string{"token": "t-alice"}, provider.Source{})); err != nil {
		log.Fatal(err)
	}
	c, err := st.Retrieve(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ref.String() == "encfile:"+dir+"/sub-alice", c.Value("token"))
	// Output: true t-alice
}
