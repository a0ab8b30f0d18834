package awssdk

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ErrUnsafeProcess means the SDK's chain for a profile runs a
// credential_process helper that the provider could not configure to run
// without the process's standard input, so it is not run. It is a definite
// failure; a newer or older SDK arranging its providers differently is the
// likely cause.
var ErrUnsafeProcess = errors.New("awssdk: credential_process cannot be run safely: the SDK would give it this process's standard input")

// guard replaces the SDK's credential_process provider, which hands the
// helper this process's stdin and stderr (processcreds.DefaultNewCommandBuilder
// sets cmd.Stdin = os.Stdin, for MFA prompts; config.WithProcessCredentialOptions
// cannot change that), with one that runs the same command with stdin from
// the null device and stderr to Options.ProcessStderr.
//
// The SDK puts a credential_process provider in one of two places: directly
// under the config's credential cache (the profile's own credentials), or
// as the credentials of the STS client of the AssumeRole provider just above
// it (role_arn with credential_process, or a source_profile chain ending in
// one). The guard replaces it in both; [guard.secure] refuses a chain that
// runs a process it did not replace.
type guard struct {
	p        *Provider
	command  string // the leaf profile's credential_process
	replaced int
}

// assumeRole is the AssumeRoleCredentialOptions hook: when the STS client
// that signs AssumeRole would get its credentials from the SDK's process
// provider, it gets a client with the safe one instead.
func (g *guard) assumeRole(o *stscreds.AssumeRoleOptions) {
	if g.p.userAssume != nil {
		g.p.userAssume(o)
	}
	c, ok := o.Client.(*sts.Client)
	if !ok {
		return // the SDK's early validation pass, or a caller's own client
	}
	so := c.Options()
	if so.Credentials == nil || !aws.IsCredentialsProvider(so.Credentials, (*processcreds.Provider)(nil)) || g.command == "" {
		return
	}
	so.Credentials = g.process(providerSources(so.Credentials))
	o.Client = sts.New(so)
	g.replaced++
}

// secure replaces a process provider directly under cfg's cache, and fails
// with ErrUnsafeProcess if the chain still runs one the guard did not
// replace.
func (g *guard) secure(cfg *aws.Config, sources []aws.CredentialSource) error {
	if !slices.Contains(sources, aws.CredentialSourceProcess) && !slices.Contains(sources, aws.CredentialSourceProfileProcess) {
		return nil
	}
	if cfg.Credentials != nil && aws.IsCredentialsProvider(cfg.Credentials, (*processcreds.Provider)(nil)) && g.command != "" {
		var opts []func(*aws.CredentialsCacheOptions)
		if g.p.userCache != nil {
			opts = append(opts, g.p.userCache)
		}
		cfg.Credentials = aws.NewCredentialsCache(g.process(sources), opts...)
		g.replaced++
	}
	if g.replaced == 0 {
		return ErrUnsafeProcess
	}
	return nil
}

// process returns the SDK's process provider running g.command through
// the safe command builder, with the caller's ProcessCredentialOptions.
func (g *guard) process(sources []aws.CredentialSource) *processcreds.Provider {
	b := commandBuilder{command: g.command, p: g.p}
	return processcreds.NewProviderCommand(b, func(o *processcreds.Options) {
		if g.p.userProc != nil {
			g.p.userProc(o)
		}
		o.CredentialSources = sources
	})
}

// commandBuilder builds the helper's command as the SDK's default builder
// does (sh -c COMMAND, or cmd.exe /C COMMAND on Windows, with this
// process's environment), except for its standard streams: stdin is the
// null device, stdout is left to the SDK (which reads the credentials from
// it), stderr goes to Options.ProcessStderr or the null device. On Unix the
// helper runs in its own process group, which is killed as a whole when
// the helper is stopped.
type commandBuilder struct {
	command string
	p       *Provider
}

func (b commandBuilder) NewCommand(ctx context.Context) (*exec.Cmd, error) {
	args := []string{"sh", "-c", b.command}
	if runtime.GOOS == "windows" {
		args = []string{"cmd.exe", "/C", b.command}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = nil // the null device: never this process's stdin
	cmd.Stdout = nil
	cmd.Stderr = b.p.opts.ProcessStderr
	cmd.WaitDelay = b.p.opts.ProcessWaitDelay
	isolateGroup(cmd)
	return cmd, nil
}
