// Command credctl is the operator's tool for mcpcred: it stores, shows
// (redacted), lists and deletes profiles in the OS keychain (macOS Keychain,
// Windows Credential Manager, Linux Secret Service), through package
// provider/keychain; checks a server's credential configuration the way
// its resolver will use it (package resolver/doctor); and moves secrets out
// of plain files into a store.
//
//	credctl set    --profile NAME FIELD [FIELD...]  store fields; values from a no-echo prompt or stdin
//	credctl get    --profile NAME                   show the profile's field names, values redacted
//	credctl delete --profile NAME [FIELD...]        delete fields, or the whole profile
//	credctl list   [--profile NAME]                 list profiles, or one profile's fields
//
//	credctl doctor  [--server whitelist-mcp | --chain env,file,keychain,...] [--required F,...] [--json]
//	credctl explain [same flags] PROFILE | --reference REF
//	credctl import  --from FILE|env [--profile P] --to keychain|vault:PATH [--force]
//	credctl forget  --profile P --subject SUB --issuer URL
//
// doctor reads what the server reads (whitelist-mcp's configuration by
// default: the MCP_* variables, the profiles file, the environment,
// ~/.mcp/credentials, the keychain or secrets directory; or the providers
// --chain names, vault and ssm included) and reports, for the default
// profile and every profile of the profiles file, the resolver's walk, the
// files' modes and ages, expiry and who may select the profile, with a fix
// for each problem. It exits 1 when a profile cannot resolve or a source is
// insecure, 0 otherwise, 2 on a usage error. explain does the same for one
// profile, or says what a credential reference reads and which
// MCP_ALLOWED_REFERENCES pattern covers it. Values are told apart by
// fingerprints, HMAC-SHA256 under a random key per run, or under
// MCPCRED_FINGERPRINT_KEY when set, so that runs agree.
//
// import reads one profile (a section of an INI credentials file, such as
// ~/.aws/credentials, or the AWS variables of the environment), stores it
// in the keychain or a Vault KV secret, reads it back and compares, then
// says how to delete the plaintext. It refuses to replace what the
// destination holds without --force.
//
// forget removes one user's own credential of a per-subject profile
// ({sub} in its source: what the user added through resolver/enroll), as
// the server reads it (profile.Provider.StoreFor): every Vault version, the
// keychain items or the encrypted file. Servers stop serving it within
// their credential TTL.
//
// Values are never taken from the command line, where ps and shell history
// would show them. On a terminal, set prompts for each field without echo;
// otherwise it reads stdin: the whole of it (minus one trailing newline) for
// a single field, one line per field for several. This is how a secret moves
// out of a plain file:
//
//	credctl set --profile work token < token.txt && shred -u token.txt
//	printf '%s\n%s\n' "$AKID" "$SECRET" | credctl set --profile work access_key_id secret_access_key
//
// set stores only what mcpcred can read back: a profile name the resolver
// accepts (provider.ValidName, at most resolver.MaxProfileNameLen bytes),
// field names of a-z, 0-9 and _ (provider.ValidField), and names that the
// keychain:PROFILE and keychain:PROFILE#FIELD references denote exactly. It
// checks them before reading any value.
//
// Nothing credctl prints contains a value.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/keychain"
	"github.com/mcpcred/mcpcred/resolver"
)

const usage = `usage:
  credctl set    --profile NAME FIELD [FIELD...]   store fields (values from a no-echo prompt or stdin)
  credctl get    --profile NAME                    show fields, values redacted
  credctl delete --profile NAME [FIELD...]         delete fields, or the whole profile
  credctl list   [--profile NAME]                  list profiles, or a profile's fields
flags (after the command): --profile NAME (default "default"), --service PREFIX (default "mcpcred"), --timeout D (default 10s)

  credctl doctor  [--server whitelist-mcp | --chain env,file,keychain,...] [--json]
                  check the configuration a server reads; exit 1 on a profile that cannot resolve or an insecure source
  credctl explain [--server ... | --chain ...] [--json] PROFILE | --reference REF
                  the resolver's walk for one selection, with the policy's decision
  credctl import  --from ~/.aws/credentials|~/.mcp/credentials|env [--profile P] --to keychain|vault:PATH [--force]
                  move a profile's secrets out of a plain file or the environment into a store
  credctl forget  --profile P --subject SUB --issuer URL
                  remove one user's own credential of a per-subject profile (what they enrolled), every version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// maxStdin bounds how much of stdin is read.
const maxStdin = 1 << 20

func run(ctx context.Context, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "doctor":
		return runDoctor(ctx, args[1:], os.Getenv, stdout, stderr)
	case "explain":
		return runExplain(ctx, args[1:], os.Getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], os.Getenv, stdout, stderr)
	case "forget":
		return runForget(ctx, args[1:], os.Getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet("credctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", provider.DefaultProfile, "profile name")
	service := fs.String("service", keychain.DefaultService, "keychain service name prefix")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline for the whole command")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	names := fs.Args()
	for _, n := range names {
		if strings.ContainsAny(n, "=:") || strings.HasPrefix(n, "-") {
			// Do not echo it: it may be a value typed on the command line.
			fmt.Fprintln(stderr, "credctl: FIELD arguments are names only (after the flags); values are read from a prompt or stdin, never from the command line")
			return 2
		}
	}
	if cmd == "set" {
		// What set writes must read back: through the resolver, which
		// takes the profile name, and through a keychain: reference.
		if err := readable(*service, *profile, names); err != nil {
			fmt.Fprintln(stderr, "credctl:", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	kc := keychain.New(func(o *keychain.Options) {
		o.Service = *service
		o.Timeout = *timeout
	})

	var err error
	switch cmd {
	case "set":
		err = set(ctx, kc, *profile, names, stdin, stdout, stderr)
	case "get":
		err = get(ctx, kc, *profile, stdout)
	case "delete":
		if err = kc.DeleteFields(ctx, *profile, names...); err == nil {
			what := "profile"
			if len(names) > 0 {
				what = "fields " + strings.Join(names, ", ") + " of profile"
			}
			fmt.Fprintf(stdout, "deleted %s %q (service %s)\n", what, *profile, kc.ServiceName(*profile))
		}
	case "list":
		err = list(ctx, kc, *profile, isSet(fs, "profile"), stdout)
	default:
		fmt.Fprintf(stderr, "credctl: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "credctl:", err)
		return 1
	}
	return 0
}

// readable reports why profile, or one of fields, under the service prefix
// service could be stored but not read back the way mcpcred reads it: a
// profile name the resolver refuses (provider.ValidName with
// resolver.MaxProfileNameLen), a field name that is not a canonical field
// (provider.ValidField: a-z, 0-9 and _), or a name that the keychain:
// reference for it (keychain:PROFILE, keychain:SERVICE/PROFILE,
// ...#FIELD) does not denote, or that the keychain package refuses. Names
// are never quoted: a value typed in the wrong place must not be echoed.
func readable(service, profile string, fields []string) error {
	if err := provider.ValidName(profile, resolver.MaxProfileNameLen); err != nil {
		return fmt.Errorf("--profile %s cannot be a profile name: it %v; use letters, digits, '.', '_' and '-'", provider.Describe(profile), err)
	}
	body := profile
	if service != keychain.DefaultService {
		body = service + "/" + profile
	}
	scheme := keychain.Scheme()
	for _, f := range append([]string{""}, fields...) {
		what := "--profile " + provider.Describe(profile)
		if f != "" {
			what = "FIELD " + provider.Describe(f)
			if !provider.ValidField(f) {
				return fmt.Errorf("%s is not a field name mcpcred reads: use 1 to %d of a-z, 0-9 and _, such as access_key_id or token", what, provider.MaxFieldLen)
			}
		}
		want := provider.Ref{Scheme: "keychain", Body: body, Field: f}
		ref, err := provider.ParseRef(want.String())
		if err != nil || ref != want {
			return fmt.Errorf("%s cannot be read back: the reference %s would not name it; use letters, digits, '.', '_' and '-'", what, "keychain:PROFILE"+map[bool]string{true: "#FIELD"}[f != ""])
		}
		t, err := scheme.Open(ref)
		if err != nil || t.Ref.Body != service+"/"+profile || t.Ref.Field != f {
			return fmt.Errorf("%s cannot be stored in the keychain: %s", what, strings.TrimPrefix(errText(err), "provider: "))
		}
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return "the keychain: reference for it reads another item"
	}
	return err.Error()
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func set(ctx context.Context, kc *keychain.Provider, profile string, names []string, stdin *os.File, stdout, stderr io.Writer) error {
	if len(names) == 0 {
		return errors.New("set needs at least one FIELD name, such as token or access_key_id")
	}
	values, err := readValues(profile, names, stdin, stderr)
	if err != nil {
		return err
	}
	fields := make(map[string]provider.Secret, len(names))
	for i, n := range names {
		fields[n] = provider.NewSecret(values[i])
	}
	if err := kc.Store(ctx, profile, fields); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stored profile %q in the keychain (service %s):\n", profile, kc.ServiceName(profile))
	for _, n := range names {
		fmt.Fprintf(stdout, "  %s = %s\n", n, fields[n])
	}
	return nil
}

// readValues prompts on a terminal, or reads stdin.
func readValues(profile string, names []string, stdin *os.File, stderr io.Writer) ([]string, error) {
	if term.IsTerminal(int(stdin.Fd())) {
		out := make([]string, len(names))
		for i, n := range names {
			fmt.Fprintf(stderr, "%s for profile %q (input hidden): ", n, profile)
			b, err := term.ReadPassword(int(stdin.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return nil, fmt.Errorf("reading %s from the terminal: %w", n, err)
			}
			out[i] = string(b)
		}
		return out, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(b) > maxStdin {
		return nil, fmt.Errorf("stdin is longer than %d bytes", maxStdin)
	}
	if len(names) == 1 {
		return []string{string(trimNewline(b))}, nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxStdin)
	for sc.Scan() {
		out = append(out, string(trimNewline(sc.Bytes())))
	}
	if len(out) != len(names) {
		return nil, fmt.Errorf("stdin has %d lines, want one per field (%d)", len(out), len(names))
	}
	return out, nil
}

func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func get(ctx context.Context, kc *keychain.Provider, profile string, stdout io.Writer) error {
	c, err := kc.Retrieve(ctx, profile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "profile %q from %s:\n", profile, c.Source)
	for _, n := range c.Names() {
		fmt.Fprintf(stdout, "  %s = %s\n", n, c.Get(n))
	}
	return nil
}

func list(ctx context.Context, kc *keychain.Provider, profile string, one bool, stdout io.Writer) error {
	if one {
		names, err := kc.Fields(ctx, profile)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	names, err := kc.Profiles(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return nil
}
