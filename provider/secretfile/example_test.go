package secretfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/secretfile"
)

func ExampleNew() {
	// testdata/secrets holds access_key_id and secret_access_key files
	// (the default profile), prod.json, staging.ini and a team/ directory.
	p := secretfile.New(func(o *secretfile.Options) { o.Dir = "testdata/secrets" })
	for _, profile := range []string{provider.DefaultProfile, "prod", "staging", "team", "nosuch"} {
		c, err := p.Retrieve(context.Background(), profile)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(c)
	}
	// Output:
	// credentials{access_key_id, secret_access_key} from secretfile (testdata/secrets/{access_key_id,secret_access_key})
	// credentials{access_key_id, note, secret_access_key} from secretfile (testdata/secrets/prod.json)
	// credentials{access_key_id, region, secret_access_key} from secretfile (testdata/secrets/staging.ini)
	// credentials{access_key_id, extra_field, secret_access_key} from secretfile (testdata/secrets/team/)
	// provider secretfile: profile "nosuch": testdata/secrets: secretfile: none of nosuch.json, nosuch.ini, nosuch/ exists
}

// A Docker secret has the name given in compose, without an extension:
// map the profile to it.
func ExampleNew_dockerSecret() {
	p := secretfile.New(func(o *secretfile.Options) {
		o.Dir = "testdata/secrets"
		o.Files = map[string]string{provider.DefaultProfile: "aws_credentials"}
	})
	c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	fmt.Println(c, err)
	fmt.Println(c.Value(provider.FieldRegion))
	// Output:
	// credentials{access_key_id, region, secret_access_key} from secretfile (testdata/secrets/aws_credentials) <nil>
	// eu-central-1
}

// Output of "aws sts assume-role" can be used as a secret file as it is;
// its Expiration becomes the credentials' expiry.
func ExampleNew_stsOutput() {
	p := secretfile.New(func(o *secretfile.Options) { o.Dir = "testdata/secrets" })
	c, err := p.Retrieve(context.Background(), "sts")
	fmt.Println(c, err)
	// Output:
	// credentials{access_key_id, secret_access_key, session_token} from secretfile (testdata/secrets/sts.json) expires 2031-01-02T03:04:05Z <nil>
}

func ExampleNew_malformed() {
	dir, _ := os.MkdirTemp("", "secrets")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "prod.json"), []byte("{\n  \"secret_access_key\": \"wJalr\"\n  \"region\": \"x\"\n}\n"), 0o600)

	p := secretfile.New(func(o *secretfile.Options) { o.Dir = dir })
	_, err := p.Retrieve(context.Background(), "prod")
	fmt.Println(filepath.ToSlash(strings.ReplaceAll(err.Error(), dir, "DIR")))
	var se *provider.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, secretfile.ErrSyntax), filepath.Base(se.Path), se.Line, se.Column)
	}
	// Output:
	// provider secretfile: profile "prod": secretfile: malformed secret file: DIR/prod.json:3:3: invalid JSON syntax
	// true prod.json 3 3
}

func ExampleValidName() {
	for _, name := range []string{"prod", "../etc", "..data"} {
		fmt.Println(name, secretfile.ValidName(name))
	}
	// Output:
	// prod <nil>
	// ../etc name contains a path separator
	// ..data name starts with '.'
}

func ExampleCanonicalField() {
	for _, k := range []string{"aws_access_key_id", "SecretAccessKey", "SessionToken", "db_password"} {
		fmt.Println(k, "->", secretfile.CanonicalField(k))
	}
	// Output:
	// aws_access_key_id -> access_key_id
	// SecretAccessKey -> secret_access_key
	// SessionToken -> session_token
	// db_password -> db_password
}

// Scheme serves "secretfile:" references, such as the sources of a profiles
// file or a request's credential_id.
func ExampleScheme() {
	var schemes provider.Schemes
	// A real program keeps the default directory, /run/secrets.
	schemes.Register("secretfile", secretfile.Scheme(func(o *secretfile.Options) { o.Dir = "testdata/secrets" }))

	for _, ref := range []string{"secretfile:prod", "secretfile:staging", "secretfile:"} {
		p, _, err := schemes.Provider(ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		c, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		fmt.Println(ref, "=>", c, err)
	}

	_, _, err := schemes.Provider("secretfile:secrets/prod")
	fmt.Println(err)
	// Output:
	// secretfile:prod => credentials{access_key_id, note, secret_access_key} from secretfile (testdata/secrets/prod.json) <nil>
	// secretfile:staging => credentials{access_key_id, region, secret_access_key} from secretfile (testdata/secrets/staging.ini) <nil>
	// secretfile: => credentials{access_key_id, secret_access_key} from secretfile (testdata/secrets/{access_key_id,secret_access_key}) <nil>
	// provider: invalid credential reference: the 23-byte secretfile: reference: its body is neither a secret name (name contains a path separator) nor an absolute /DIR/NAME
}
