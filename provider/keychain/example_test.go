package keychain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zalando/go-keyring"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
)

// memKeyring is an in-memory [keychain.Keyring], so that the examples run
// anywhere. Real programs leave Options.Keyring unset to use the OS keychain.
type memKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *memKeyring) Get(s, a string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.m[s+"\x00"+a]; ok {
		return v, nil
	}
	return "", keyring.ErrNotFound
}

func (k *memKeyring) Set(s, a, v string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[s+"\x00"+a] = v
	return nil
}

func (k *memKeyring) Delete(s, a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, s+"\x00"+a)
	return nil
}

func inMemory(o *keychain.Options) { o.Keyring = &memKeyring{m: map[string]string{}} }

func ExampleNew() {
	// In a real program: kc := keychain.New()
	kc := keychain.New(inMemory)
	ctx := context.Background()

	err := kc.Store(ctx, "work", map[string]provider.Secret{
		provider.FieldToken: provider.NewSecret("ghp_example"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := kc.Retrieve(ctx, "work")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)
	fmt.Println(c.Get(provider.FieldToken))
	// Output:
	// credentials{token} from keychain (mcpcred:work)
	// [REDACTED]
}

func ExampleProvider_ServiceName() {
	kc := keychain.New()
	// Where `credctl set --profile work token` puts the token, and where
	// secret-tool, security or cmdkey find it.
	fmt.Println("service:", kc.ServiceName("work"), "account:", provider.FieldToken)
	// Output:
	// service: mcpcred:work account: token
}

func ExampleProvider_Store_tooLarge() {
	kc := keychain.New(inMemory)
	big := strings.Repeat("x", keychain.MaxValueBytes+1)
	err := kc.Store(context.Background(), "work", map[string]provider.Secret{"token": provider.NewSecret(big)})
	var se *keychain.SizeError
	fmt.Println(errors.As(err, &se), se.Size, se.Limit)
	// Output:
	// true 2561 2560
}

func ExampleProvider_Profiles() {
	kc := keychain.New(inMemory)
	ctx := context.Background()
	for _, p := range []string{"work", "default"} {
		kc.Store(ctx, p, map[string]provider.Secret{"token": provider.NewSecret("t-" + p)})
	}
	profiles, _ := kc.Profiles(ctx)
	fields, _ := kc.Fields(ctx, "work")
	fmt.Println(profiles, fields)
	// Output:
	// [default work] [token]
}

func ExampleProvider_Retrieve_notFound() {
	kc := keychain.New(inMemory)
	_, err := kc.Retrieve(context.Background(), "nobody")
	fmt.Println(errors.Is(err, provider.ErrNotFound))
	// Output:
	// true
}

// Scheme serves "keychain:" references, such as the sources of a profiles
// file or a request's credential_id.
func ExampleScheme() {
	kr := &memKeyring{m: map[string]string{}}
	// An item stored by hand: secret-tool store service mcpcred:ops username github_pat
	kr.Set("mcpcred:ops", "github_pat", "ghp_example")
	kr.Set("mcpcred:ops", "username", "octocat")

	var schemes provider.Schemes
	// In a real program: schemes.Register("keychain", keychain.Scheme())
	schemes.Register("keychain", keychain.Scheme(func(o *keychain.Options) { o.Keyring = kr }))

	for _, ref := range []string{"keychain:ops", "keychain:mcpcred/ops#github_pat"} {
		p, _, err := schemes.Provider(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		fmt.Println(ref, "=>", c, err)
	}

	_, _, err := schemes.Provider("keychain:ops:prod")
	fmt.Println(err)
	// Output:
	// keychain:ops => credentials{username} from keychain (mcpcred:ops) <nil>
	// keychain:mcpcred/ops#github_pat => credentials{github_pat} from keychain (mcpcred:ops/github_pat) <nil>
	// provider: invalid credential reference: the 17-byte keychain: reference: its body names a profile that is not valid: profile name contains ":", which keychain names use as a separator
}
