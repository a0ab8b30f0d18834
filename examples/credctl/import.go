package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
	"github.com/mcpcred/mcpcred/provider/file"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/provider/vault"
	"github.com/mcpcred/mcpcred/resolver"
)

// errExists is returned when the destination holds the profile or secret
// already and --force was not given.
var errExists = errors.New("the destination already holds it; pass --force to replace it")

// plain is what an import read: the fields, and what the operator does to
// the plaintext afterwards.
type plain struct {
	creds   provider.Credentials
	from    string   // "section [P] of PATH", "the environment"
	cleanup []string // how to delete the plaintext
}

func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credctl import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "an INI credentials file (~/.aws/credentials, ~/.mcp/credentials, any path), or env")
	profileName := fs.String("profile", provider.DefaultProfile, "the file's section to read, and the profile to write")
	to := fs.String("to", "", "keychain, or vault:PATH (a KV v2 secret by its API path, such as vault:secret/data/mcp/aws)")
	force := fs.Bool("force", false, "replace what the destination holds")
	service := fs.String("service", keychain.DefaultService, "keychain service name prefix")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline for the whole command")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *from == "" || *to == "" {
		fmt.Fprintln(stderr, "credctl import: want --from FILE|env --to keychain|vault:PATH [--profile P] [--force]; values are never taken from the command line")
		return 2
	}
	if err := provider.ValidName(*profileName, resolver.MaxProfileNameLen); err != nil {
		fmt.Fprintf(stderr, "credctl import: --profile %s cannot be a profile name: it %v\n", provider.Describe(*profileName), err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	src, err := readPlain(ctx, *from, *profileName, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "credctl import:", err)
		return 1
	}
	var into, source string
	switch {
	case *to == "keychain":
		into, err = toKeychain(ctx, src.creds, *service, *profileName, *force, *timeout)
		source = "keychain:" + *profileName
		if *service != keychain.DefaultService {
			source = "keychain:" + *service + "/" + *profileName
		}
	case strings.HasPrefix(*to, "vault:"):
		into, err = toVault(ctx, src.creds, strings.TrimPrefix(*to, "vault:"), *force, getenv)
		source = *to
	default:
		fmt.Fprintln(stderr, "credctl import: --to is keychain or vault:PATH")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "credctl import:", err)
		return 1
	}
	fmt.Fprintf(stdout, "imported %s: fields %s\n", src.from, strings.Join(src.creds.Names(), ", "))
	fmt.Fprintf(stdout, "  into %s\n", into)
	fmt.Fprintln(stdout, "  read back and compared: identical")
	fmt.Fprintln(stdout, "\nnow delete the plaintext:")
	for _, c := range src.cleanup {
		fmt.Fprintln(stdout, "  "+c)
	}
	fmt.Fprintf(stdout, "then point the server at the store, in the profiles file (%s, default ~/.mcp/profiles.json):\n", "MCP_PROFILES_PATH")
	fmt.Fprintf(stdout, "  %q: {\"source\": %q}\n", *profileName, source)
	fmt.Fprintln(stdout, "and check the result: credctl doctor")
	fmt.Fprintln(stdout, "the values sat in plaintext: if anyone else could read them, rotate them too.")
	return 0
}

// readPlain reads the profile's fields from a credentials file or the
// environment, through the module's own providers: the file must pass their
// permission checks (MCP_INSECURE_MODE is not honoured here).
func readPlain(ctx context.Context, from, profileName string, getenv func(string) string) (plain, error) {
	if from == "env" {
		// The environment is one set of values: --profile names the
		// destination only.
		p := env.New(func(o *env.Options) { o.Getenv = getenv })
		c, err := p.Retrieve(ctx, provider.DefaultProfile)
		if err != nil {
			return plain{}, err
		}
		var set []string
		for _, f := range c.Names() {
			for _, v := range env.DefaultVars()[f] {
				if getenv(v) != "" {
					set = append(set, v)
				}
				if fv := getenv(v + env.FileSuffix); fv != "" {
					set = append(set, v+env.FileSuffix)
				}
			}
		}
		cleanup := []string{
			"unset " + strings.Join(set, " "),
			"and remove them where they are set: shell startup files, .env files, the unit or container definition",
		}
		for _, v := range set {
			if strings.HasSuffix(v, env.FileSuffix) {
				cleanup = append(cleanup, "shred -u the file "+v+" names")
			}
		}
		return plain{creds: c, from: "the environment (" + strings.Join(set, ", ") + ")", cleanup: cleanup}, nil
	}
	path := from
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home := getenv("HOME")
		if home == "" {
			return plain{}, errors.New("--from: cannot expand ~/: HOME is not set")
		}
		path = filepath.Join(home, rest)
	}
	// The section is the one named: MCP_CREDENTIAL_PROFILE, MCP_CREDENTIALS_FILE
	// and MCP_INSECURE_MODE are the server's, not the import's.
	fileEnv := func(k string) string {
		switch k {
		case file.EnvProfile, file.EnvFile, file.EnvInsecure:
			return ""
		}
		return getenv(k)
	}
	p := file.New(func(o *file.Options) { o.Path = path; o.Getenv = fileEnv })
	c, err := p.Retrieve(ctx, profileName)
	if err != nil {
		return plain{}, err
	}
	section := p.Section(profileName)
	first, last, sections, err := sectionLines(path, section)
	var cleanup []string
	switch {
	case err != nil:
		cleanup = []string{"delete the [" + section + "] section of " + path}
	case sections == 1:
		cleanup = []string{shred(path) + "    (it holds only this section)"}
	default:
		cleanup = []string{fmt.Sprintf("delete lines %d-%d of %s (the [%s] section; it holds %d sections)", first, last, path, section, sections)}
	}
	return plain{creds: c, from: "section [" + section + "] of " + path, cleanup: cleanup}, nil
}

func shred(path string) string {
	if runtime.GOOS == "linux" {
		return "shred -u " + shellQuote(path)
	}
	return "rm -P " + shellQuote(path)
}

func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_./~-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var headerRE = regexp.MustCompile(`^\s*\[\s*([^\]]*?)\s*\]\s*$`)

// sectionLines finds the lines of section (or [profile section]) in an INI
// file: the first and last line, trailing blank lines left out, and how many
// sections the file has. It reads only header lines' names.
func sectionLines(path, section string) (first, last, sections int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer clear(data)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	n, lastContent := 0, 0
	in := false
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if m := headerRE.FindSubmatch(line); m != nil {
			sections++
			if in {
				last, in = lastContent, false
			}
			name := string(m[1])
			if name == section || strings.TrimSpace(strings.TrimPrefix(name, "profile ")) == section && strings.HasPrefix(name, "profile ") {
				if first == 0 {
					first, in = n, true
				}
			}
		}
		if len(bytes.TrimSpace(line)) > 0 {
			lastContent = n
		}
	}
	if in {
		last = lastContent
	}
	if first == 0 {
		return 0, 0, sections, errors.New("section not found")
	}
	return first, last, sections, nil
}

// toKeychain stores c as the keychain profile, read back and compared.
func toKeychain(ctx context.Context, c provider.Credentials, service, profileName string, force bool, timeout time.Duration) (string, error) {
	names := c.Names()
	if err := readable(service, profileName, names); err != nil {
		return "", err
	}
	kc := keychain.New(func(o *keychain.Options) { o.Service = service; o.Timeout = timeout })
	existing, err := kc.Fields(ctx, profileName)
	switch {
	case err == nil && len(existing) > 0 && !force:
		return "", fmt.Errorf("keychain profile %s (service prefix %s) holds field(s) %s: %w", provider.Label(profileName), provider.Label(service), strings.Join(existing, ", "), errExists)
	case err != nil && !errors.Is(err, provider.ErrNotFound):
		return "", err
	}
	fields := make(map[string]provider.Secret, len(names))
	for _, n := range names {
		fields[n] = c.Get(n)
	}
	if err := kc.Store(ctx, profileName, fields); err != nil {
		return "", err
	}
	got, err := kc.Retrieve(ctx, profileName)
	if err != nil {
		return "", fmt.Errorf("reading back what was stored: %w", err)
	}
	for _, n := range names {
		if !got.Get(n).Equal(c.Get(n)) {
			return "", fmt.Errorf("field %s reads back different from what was stored; keep the plaintext and check the keychain", n)
		}
	}
	what := fmt.Sprintf("the keychain, profile %s (service prefix %s)", provider.Label(profileName), provider.Label(service))
	if extra := slices.DeleteFunc(slices.Clone(existing), func(f string) bool { return slices.Contains(names, f) }); len(extra) > 0 {
		what += "; fields it held before and kept: " + strings.Join(extra, ", ")
	}
	return what, nil
}

// toVault writes c as the Vault secret at path, through the Vault API
// client configured as provider/vault configures it (VAULT_ADDR,
// VAULT_CACERT, VAULT_NAMESPACE, ...; the token from VAULT_TOKEN or
// ~/.vault-token), and reads it back through provider/vault.
func toVault(ctx context.Context, c provider.Credentials, path string, force bool, getenv func(string) string) (string, error) {
	ref, err := vault.ParseRef("vault:" + path)
	if err != nil {
		return "", err
	}
	if ref.Field != "" || ref.Version != 0 {
		return "", errors.New("--to vault:PATH names a whole secret: no #field or ?version")
	}
	p, err := vault.New(func(o *vault.Options) { o.Getenv = getenv })
	if err != nil {
		return "", err
	}
	defer p.Close()
	client, err := p.Client().Clone()
	if err != nil {
		return "", fmt.Errorf("vault: %w", err)
	}
	token := getenv(api.EnvVaultToken)
	if token == "" {
		if home := getenv("HOME"); home != "" {
			if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil {
				token = strings.TrimSpace(string(b))
			}
		}
	}
	if token == "" {
		return "", errors.New("vault: no token: set VAULT_TOKEN, or run vault login (~/.vault-token)")
	}
	client.SetToken(token)
	if ns := getenv(api.EnvVaultNamespace); ns != "" {
		client.SetNamespace(ns)
	}
	full := ref.Path
	mi, err := client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+full)
	if err != nil {
		return "", vaultErr("looking up the mount of "+full, err)
	}
	var mount, typ, version string
	if mi != nil && mi.Data != nil {
		mount, _ = mi.Data["path"].(string)
		typ, _ = mi.Data["type"].(string)
		if o, ok := mi.Data["options"].(map[string]any); ok {
			version, _ = o["version"].(string)
		}
	}
	mount = strings.Trim(mount, "/")
	if typ != "kv" && typ != "generic" {
		return "", fmt.Errorf("vault: %s is not on a KV mount (mount %q is %q); import writes KV secrets", full, mount, typ)
	}
	kv2 := version == "2"
	if kv2 && !strings.HasPrefix(full, mount+"/data/") {
		return "", fmt.Errorf("vault: %s is on the KV v2 mount %s: write it by its API path, vault:%s/data/%s", full, mount, mount, strings.TrimPrefix(full, mount+"/"))
	}
	data := make(map[string]any, c.Len())
	for _, n := range c.Names() {
		data[n] = c.Value(n)
	}
	cur, err := client.Logical().ReadWithContext(ctx, full)
	if err != nil {
		return "", vaultErr("reading "+full, err)
	}
	exists := cur != nil && cur.Data != nil && (!kv2 && len(cur.Data) > 0 || kv2 && cur.Data["data"] != nil)
	if exists && !force {
		return "", fmt.Errorf("vault: %s holds a secret: %w", full, errExists)
	}
	body := data
	if kv2 {
		body = map[string]any{"data": data}
		if !force {
			body["options"] = map[string]any{"cas": 0} // only if it still does not exist
		}
	}
	if _, err := client.Logical().WriteWithContext(ctx, full, body); err != nil {
		return "", vaultErr("writing "+full, err)
	}
	clear(data)
	got, err := p.RetrieveRef(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("reading back what was written: %w", err)
	}
	if !got.Equal(c) {
		return "", fmt.Errorf("vault: %s reads back different from what was written (fields %s); keep the plaintext and check the secret", full, strings.Join(got.Names(), ", "))
	}
	what := "Vault, secret " + full
	if kv2 {
		what += " (KV v2"
		if exists {
			what += "; the previous version stays readable until you delete it: vault kv metadata delete or vault kv destroy"
		}
		what += ")"
	}
	return what, nil
}

// vaultErr renders an error of the api package without response bodies or
// URLs (an address may carry a password): the status and Vault's own
// error strings, or the network error.
func vaultErr(op string, err error) error {
	var re *api.ResponseError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		msg := fmt.Sprintf("vault: %s: HTTP %d: %s", op, re.StatusCode, strings.Join(re.Errors, "; "))
		if re.StatusCode == 503 && slices.ContainsFunc(re.Errors, func(s string) bool { return strings.Contains(s, "sealed") }) {
			msg += "; unseal it (vault operator unseal) and run the import again"
		}
		if re.StatusCode == 403 {
			msg += "; the token needs create and update on this path (vault token capabilities)"
		}
		return errors.New(msg)
	case errors.As(err, &ue):
		return fmt.Errorf("vault: %s: cannot reach Vault at VAULT_ADDR: %v", op, ue.Err)
	}
	return fmt.Errorf("vault: %s: %v", op, err)
}
