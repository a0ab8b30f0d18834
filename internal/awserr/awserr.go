// Package awserr holds what the module's AWS-backed providers share to
// report aws-sdk-go-v2 errors without copying their text: a credential
// provider's error can embed raw output of a credential_process helper,
// which may hold a secret.
package awserr

import (
	"errors"
	"fmt"
	"net"
)

// Opaque returns an error that reads as msg and unwraps to err, so that
// errors.Is and errors.As still see the SDK's error but its text is never
// shown.
func Opaque(msg string, err error) error { return &opaque{msg, err} }

type opaque struct {
	msg string
	err error
}

func (o *opaque) Error() string { return o.msg }
func (o *opaque) Unwrap() error { return o.err }

// NetDetail names the network operation that failed, such as
// ": dial: connection refused", without the SDK's wrapping text; "" when err
// holds no *net.OpError.
func NetDetail(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Sprintf(": %s: %v", op.Op, op.Err)
	}
	return ""
}

// Innermost returns the last error of err's Unwrap chain.
func Innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
