// Package awscred connects a [resolver.Resolver] to aws-sdk-go-v2: a
// credentials provider that resolves through it, a SigV4 signer that is
// safe when one client signs with many credentials, the test for "AWS
// rejected these credentials", and what a server that calls AWS for its
// tools needs besides: the region and endpoint from its environment, dry
// runs, and AWS errors in plain words.
//
// # Credentials
//
// [New] returns an aws.CredentialsProvider whose Retrieve resolves a fixed
// [resolver.Request]; [NewContext] one that resolves the request each
// operation's context carries ([WithRequest]), so that one client serves
// every tool call with the credentials that call selected:
//
//	r, _ := resolver.New(chain, func(o *resolver.Options) {
//		o.Required = []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey}
//	})
//	client := ec2.NewFromConfig(aws.Config{Region: region, Credentials: awscred.NewContext(r)}, awscred.WithSigner)
//
//	// In each tool call:
//	out, err := client.DescribeSecurityGroups(awscred.WithRequest(ctx, in.Selection.Request()), params)
//
// Retrieve maps access_key_id, secret_access_key and session_token onto
// aws.Credentials, and the resolver's attribution onto Source
// ("mcpcred: file (/home/u/.mcp/credentials [default])"). Credentials that
// lack the key ID or the secret give an error wrapping [ErrIncomplete];
// the resolver's errors come through the SDK's operation error intact, so
// errors.Is(err, resolver.ErrNoCredentials) works on what an operation
// returns. No error holds a secret value.
//
// # Caching
//
// The resolver is the cache: a hit takes no lock and makes no provider
// call, so Retrieve runs for every request. Another cache in front of it
// would keep serving a credential after it was rotated or after
// Resolver.InvalidateResult dropped it, so do not wrap a Provider in an
// aws.CredentialsCache. config.LoadDefaultConfig with
// config.WithCredentialsProvider wraps it anyway; for that reason, by
// default, Retrieve reports CanExpire and an Expires of the time of the call
// (good for the request being signed), which makes any such cache pass
// every call through. Options.ReportExpiry reports the credential's own
// expiry instead, for code that reads it and caches nothing.
//
// # Signing
//
// The SDK's default SigV4 signer, one per client, caches the key it derives
// from a secret per region, service and day, and looks it up by access key
// ID without comparing the secret. One client used with several credentials
// that share an access key ID therefore signs with the wrong secret: a new
// secret for a rotated key is rejected until the next UTC day, and a call
// that passes a known access key ID with a wrong secret is signed with the
// right one and accepted. [Signer] signs each request with a new SDK signer
// instead. Install it in every client that signs with resolved credentials:
//
//	client := ec2.NewFromConfig(cfg, awscred.WithSigner)
//	presigner := ec2.NewPresignClient(client, awscred.WithSigner)
//
// [WithSigner] is generic: it is an option for any service client's
// Options and PresignOptions.
//
// # Rejected credentials
//
// [Rejected] reports whether an operation's error is an AWS error code that
// means the credentials were not accepted (AuthFailure,
// InvalidClientTokenId, UnrecognizedClientException, SignatureDoesNotMatch,
// ExpiredToken, ...). Then the cached credential is worth dropping and
// reading again: [Provider.Do] runs a function of AWS calls and, on such an
// error, invalidates what the resolver cached, resolves again and retries
// once if that gave other credentials.
//
// # Servers
//
// [ReadEnv] reads a service client's region and endpoint (AWS_REGION,
// AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) through a getenv function into an
// [Env], whose Config starts the client's aws.Config, and whose CallRegion
// picks one call's region (the call's, the credentials', the
// environment's) and checks it ([ValidRegion]). [Static] turns the
// credentials resolved for one call (such as resolver/mcptool's Call.Do
// passes) into an operation's Options.Credentials:
//
//	e, err := awscred.ReadEnv(os.Getenv, "EC2")
//	client := ec2.NewFromConfig(e.Config(), awscred.WithSigner)
//	out, err := client.DescribeSecurityGroups(ctx, in, func(o *ec2.Options) { o.Credentials = awscred.Static(creds) })
//
// A [DryRun] is an HTTP client that records the request the SDK built and
// signed, and sends nothing: a server's dry-run mode resolves and signs
// exactly as it would, and reports the call it did not make
// (Request.Summary). [ErrorCode] returns an AWS error's code. [Explain]
// renders an operation's error in plain words: the code and AWS's message,
// what the common codes mean, the request ID, or the endpoint that could not
// be reached.
package awscred
