package awserr

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestOpaque(t *testing.T) {
	inner := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	sdk := errors.Join(errors.New("credential_process printed AKIAIOSFODNN7EXAMPLE"), inner)
	err := Opaque("ssm: GetParameter failed", sdk)
	if strings.Contains(err.Error(), "AKIA") || !errors.Is(err, sdk) {
		t.Fatalf("Opaque = %q", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || NetDetail(err) != ": dial: connection refused" {
		t.Fatalf("NetDetail = %q", NetDetail(err))
	}
	if Innermost(Opaque("x", inner)) != inner.Err && Innermost(Opaque("x", inner)) != inner {
		t.Fatal("Innermost")
	}
}
