package awscred

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mcpcred/mcpcred/provider"
)

// Env is where a service client sends its calls, as the AWS shared
// configuration variables say: read by [ReadEnv] through a getenv function,
// so that a server reads it once at start from the environment it was
// given, and its tests from theirs. It holds no credentials: those are the
// resolver's.
type Env struct {
	// Region is AWS_REGION, else AWS_DEFAULT_REGION; "" when neither is
	// set.
	Region string

	// RegionFrom names the variable Region came from, for messages.
	RegionFrom string

	// Endpoint is the service's base endpoint: AWS_ENDPOINT_URL_<SERVICE>,
	// else AWS_ENDPOINT_URL; "" (the SDK's regional endpoint) when neither
	// is set or AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
	Endpoint string
}

// ReadEnv reads an [Env] for the service whose SDK service ID is service
// (such as "EC2" or "Secrets Manager"; its variable is
// AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_SECRETS_MANAGER). A region must
// read as an AWS region name ([ValidRegion]) and an endpoint must be an
// absolute http or https URL. Errors name the variable and render its
// value with provider.Describe.
func ReadEnv(getenv func(string) string, service string) (Env, error) {
	var e Env
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := getenv(name); v != "" {
			if !ValidRegion(v) {
				return Env{}, fmt.Errorf("awscred: %s=%s is not an AWS region name such as us-east-1", name, provider.Describe(v))
			}
			e.Region, e.RegionFrom = v, name
			break
		}
	}
	const ignoreVar = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	ignore, err := strconv.ParseBool(getenv(ignoreVar))
	if v := getenv(ignoreVar); v != "" && err != nil {
		return Env{}, fmt.Errorf("awscred: %s=%s: want true or false", ignoreVar, provider.Describe(v))
	}
	if ignore {
		return e, nil
	}
	serviceVar := "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(service), " ", "_"))
	for _, name := range []string{serviceVar, "AWS_ENDPOINT_URL"} {
		if v := getenv(name); v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return Env{}, fmt.Errorf("awscred: %s=%s is not an absolute http(s) URL", name, provider.Describe(v))
			}
			e.Endpoint = v
			break
		}
	}
	return e, nil
}

// Config returns an aws.Config with e's region and endpoint, for a service
// client's NewFromConfig. Set the rest (AppID, Credentials) on it.
func (e Env) Config() aws.Config {
	c := aws.Config{Region: e.Region}
	if e.Endpoint != "" {
		c.BaseEndpoint = aws.String(e.Endpoint)
	}
	return c
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$`)

// ValidRegion reports whether r reads as an AWS region name: us-east-1,
// eu-central-2, us-gov-west-1, cn-north-1.
func ValidRegion(r string) bool { return regionRE.MatchString(r) }

// CallRegion returns the region of one call: given, a region the call
// named (such as a tool's credentials.region argument; "" if none), else
// the region field of the credentials resolved for it (set by their source
// or their profile), else e.Region. A region that is not [ValidRegion] is
// an error naming where it came from (givenFrom, the credentials' source,
// or e.RegionFrom), never its text.
func (e Env) CallRegion(given, givenFrom string, creds provider.Credentials) (string, error) {
	region, from := given, givenFrom
	switch {
	case region != "":
	case creds.Has(provider.FieldRegion):
		region, from = creds.Value(provider.FieldRegion), creds.Source.String()
	default:
		region, from = e.Region, e.RegionFrom
	}
	if !ValidRegion(region) {
		return "", fmt.Errorf("awscred: the region from %s is not an AWS region name such as us-east-1", from)
	}
	return region, nil
}

// Static returns an aws.CredentialsProvider of c, credentials the resolver
// returned (such as those resolver/mcptool's Call.Do passes its operation), for one
// operation's Options.Credentials. Its Retrieve reports c's own expiry;
// credentials that lack access_key_id or secret_access_key give an
// [*IncompleteError].
func Static(c provider.Credentials) aws.CredentialsProvider {
	p := &Provider{opts: Options{ReportExpiry: true}}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return p.convert(c) })
}
