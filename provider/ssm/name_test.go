package ssm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpcred/mcpcred/provider/ssm"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    ssm.Ref
		wantErr bool
	}{
		{in: "/mcp/prod/token", want: ssm.Ref{Name: "/mcp/prod/token"}},
		{in: "plain_name", want: ssm.Ref{Name: "plain_name"}},
		{in: "/a/b:12", want: ssm.Ref{Name: "/a/b", Version: 12}},
		{in: "/a/b:live-1.x_y", want: ssm.Ref{Name: "/a/b", Label: "live-1.x_y"}},
		{in: "arn:aws:ssm:us-east-1:123456789012:parameter/a/b", want: ssm.Ref{Name: "arn:aws:ssm:us-east-1:123456789012:parameter/a/b"}},
		{in: "arn:aws:ssm:us-east-1:123456789012:parameter/a/b:7", want: ssm.Ref{Name: "arn:aws:ssm:us-east-1:123456789012:parameter/a/b", Version: 7}},
		{in: "/aws/service/global-infrastructure/version", want: ssm.Ref{Name: "/aws/service/global-infrastructure/version"}},
		{in: "", wantErr: true},
		{in: "/a/b:", wantErr: true},
		{in: "/a/b:0", wantErr: true},
		{in: "/a/b:-1", want: ssm.Ref{Name: "/a/b", Label: "-1"}}, // SSM allows a label to start with a hyphen
		{in: "/a/b:1x", wantErr: true},
		{in: "/a/b:awslabel", wantErr: true},
		{in: "/a/b:la bel", wantErr: true},
		{in: "/a/b:" + strings.Repeat("l", 101), wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "/a//b", wantErr: true},
		{in: "/a/b/", wantErr: true},
		{in: "/a b", wantErr: true},
		{in: "/ssm/x", wantErr: true},
		{in: "awsx", wantErr: true},
		{in: "/" + strings.Repeat("a/", 16) + "x", wantErr: true},
		{in: "arn:aws:s3:::bucket/x", wantErr: true},
		{in: "/" + strings.Repeat("x", 3000), wantErr: true},
	}
	for _, tt := range tests {
		got, err := ssm.ParseRef(tt.in)
		if tt.wantErr {
			if err == nil || !errors.Is(err, ssm.ErrInvalidName) {
				t.Errorf("ParseRef(%q) = %+v, %v; want ErrInvalidName", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseRef(%q).String() = %q", tt.in, got.String())
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"/mcp/prod/token", "/a/b:3", "/a/b:label", "arn:aws:ssm:us-east-1:1:parameter/a:2", "x:", ":", "/a//b", "/aws/service/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ssm.ParseRef(s)
		if err != nil {
			if !errors.Is(err, ssm.ErrInvalidName) {
				t.Fatalf("error %v does not wrap ErrInvalidName", err)
			}
			return
		}
		if r.Name == "" || (r.Version != 0 && r.Label != "") {
			t.Fatalf("ParseRef(%q) = %+v", s, r)
		}
		// A valid reference round-trips.
		r2, err := ssm.ParseRef(r.String())
		if err != nil || r2 != r {
			t.Fatalf("round trip of %q: %+v, %v", s, r2, err)
		}
	})
}
