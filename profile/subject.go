package profile

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/mcpcred/mcpcred/provider"
)

// SubjectPlaceholder is the one placeholder a profile's source may hold:
// it stands for a whole path segment of the reference's body, and is
// replaced by the caller's subject as [EncodeSubject] writes it, as in
// "vault:secret/data/mcp/users/{sub}#token", "ssm:/mcp/users/{sub}/" or
// "keychain:{sub}".
const SubjectPlaceholder = "{sub}"

// SubjectPrefix begins every segment [EncodeSubject] returns, so that a
// segment is never empty, "." or "..", and so that the places of subjects
// are told apart from other names in the same directory: a template's
// place is read only under names that begin with it.
const SubjectPrefix = "sub-"

// ErrSubjectSource is wrapped when a per-subject source cannot be bound to
// the request's caller: there is none, the scheme refuses the reference
// for this subject (too long for the backend, say), or the scheme would
// read outside the place the template names.
var ErrSubjectSource = errors.New("profile: the profile's per-subject source cannot be bound to this caller")

// EncodeSubject returns subject as one path segment that any scheme of this
// module takes: [SubjectPrefix], then each byte of subject that is a-z, 0-9
// or '-' as it is, and every other byte (upper case, '.', '_', '/', '\',
// '%', '~', ':', space, control and every byte of a non-ASCII character) as
// '_' and two upper-case hex digits. "alice" is "sub-alice",
// "Alice@example.com" is "sub-_41lice_40example_2Ecom" and "../x" is
// "sub-_2E_2E_2Fx".
//
// The segment holds only a-z, 0-9, '-', '_' and A-F, so it holds no path
// separator, no character a reference gives a meaning to ("#", "?", ",",
// "*", ":"), no control, invisible or non-ASCII character, and no "." (so
// no "..", and no file extension). Distinct subjects give distinct
// segments, even to a backend that ignores letter case: upper-case letters
// appear only as hex digits of an escape. [DecodeSubject] inverts it.
func EncodeSubject(subject string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(SubjectPrefix) + len(subject))
	b.WriteString(SubjectPrefix)
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; literalByte(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// literalByte reports whether EncodeSubject keeps c as it is.
func literalByte(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' }

// DecodeSubject returns the subject whose [EncodeSubject] segment is seg.
// It accepts exactly the segments EncodeSubject returns, so that
// EncodeSubject(DecodeSubject(seg)) == seg whenever it succeeds.
func DecodeSubject(seg string) (string, error) {
	rest, ok := strings.CutPrefix(seg, SubjectPrefix)
	if !ok {
		return "", errors.New("profile: a subject segment begins with " + SubjectPrefix)
	}
	var b strings.Builder
	b.Grow(len(rest))
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case literalByte(c):
			b.WriteByte(c)
		case c == '_' && i+2 < len(rest) && upperHex(rest[i+1]) >= 0 && upperHex(rest[i+2]) >= 0:
			d := byte(upperHex(rest[i+1])<<4 | upperHex(rest[i+2]))
			if literalByte(d) {
				return "", errors.New("profile: a subject segment escapes a byte it keeps as it is")
			}
			b.WriteByte(d)
			i += 2
		default:
			return "", fmt.Errorf("profile: a subject segment holds a byte at %d that is neither a-z, 0-9, '-' nor an escape _XX", len(SubjectPrefix)+i)
		}
	}
	return b.String(), nil
}

func upperHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// probeSegment stands for the subject when a template's place is worked
// out: the segment of a subject (a NUL byte) that no valid caller has.
var probeSegment = EncodeSubject("\x00")

// template is a source holding SubjectPlaceholder once, as a whole path
// segment of its body: before + segment + after.
type template struct {
	before, after string
}

func (t template) expand(segment string) string { return t.before + segment + t.after }

// parseTemplate checks a profile's source. For a template it returns its
// parts; for a plain reference the zero template. reason says what is
// wrong, and never quotes the source.
func parseTemplate(source string) (t template, reason string) {
	if !strings.ContainsAny(source, "{}") {
		if _, err := provider.ParseRef(source); err != nil {
			return template{}, err.Error()
		}
		return template{}, ""
	}
	i := strings.Index(source, SubjectPlaceholder)
	rest := strings.Replace(source, SubjectPlaceholder, "", 1)
	switch {
	case i < 0 || strings.ContainsAny(rest, "{}"):
		return template{}, `holds "{" or "}" other than the one placeholder {sub}`
	case strings.IndexByte(source, ':') < 0 || strings.IndexByte(source, ':') > i:
		return template{}, "has {sub} before its scheme's colon; it may stand only for a whole path segment of the body, as in vault:secret/data/mcp/users/{sub}"
	}
	if q := strings.IndexAny(source, "?#"); q >= 0 && q < i {
		return template{}, "has {sub} in its ?params or #field; it may stand only for a whole path segment of the body, as in vault:secret/data/mcp/users/{sub}"
	}
	before, after := source[:i], source[i+len(SubjectPlaceholder):]
	bodyStart := strings.IndexByte(source, ':') + 1
	if i != bodyStart && source[i-1] != '/' || after != "" && !strings.ContainsRune("/?#", rune(after[0])) {
		return template{}, "has {sub} inside a path segment; it must stand for a whole segment, between \"/\" (or the start of the body) and \"/\", \"?\", \"#\" or the end, as in vault:secret/data/mcp/users/{sub}"
	}
	t = template{before: before, after: after}
	if _, err := provider.ParseRef(t.expand(probeSegment)); err != nil {
		return template{}, err.Error()
	}
	return t, ""
}

// openForSubject opens the template for subject through schemes. Before
// anything is read it checks that the reference reads only inside the
// template's place: the resources of the template opened for a probe
// subject, with the subject's segment standing for "sub-*", make a
// provider.RefPolicy that must cover the subject's Target; and the
// subject's Target must read exactly those resources with its own segment
// in the probe's place. So whatever a subject is, and whatever a scheme
// makes of it, a caller reads its own place and no other.
func openForSubject(schemes *provider.Schemes, t template, subject string) (provider.Target, error) {
	probe, err := schemes.Open(t.expand(probeSegment))
	if err != nil {
		return provider.Target{}, fmt.Errorf("%w: %w", ErrSubjectSource, err)
	}
	seg := EncodeSubject(subject)
	patterns := make([]string, 0, len(probe.Resources))
	want := make(map[provider.Resource]bool, len(probe.Resources))
	for _, r := range probe.Resources {
		segs := strings.Split(r.Path, "/")
		own := make([]string, len(segs))
		n := 0
		for i, s := range segs {
			own[i] = s
			if s == probeSegment {
				segs[i], own[i] = SubjectPrefix+"*", seg
				n++
			}
		}
		if n == 0 {
			return provider.Target{}, fmt.Errorf("%w: its %s: scheme reads a resource that does not hold the subject as a path segment", ErrSubjectSource, r.Scheme)
		}
		patterns = append(patterns, provider.Resource{Scheme: r.Scheme, Path: strings.Join(segs, "/"), Span: r.Span}.String())
		want[provider.Resource{Scheme: r.Scheme, Path: strings.Join(own, "/"), Span: r.Span}] = true
	}
	policy, err := provider.NewRefPolicy(patterns...)
	if err != nil {
		return provider.Target{}, fmt.Errorf("%w: its %s: scheme reads resources no pattern can bound", ErrSubjectSource, probe.Ref.Scheme)
	}
	target, err := schemes.Open(t.expand(seg))
	if err != nil {
		return provider.Target{}, fmt.Errorf("%w: %w", ErrSubjectSource, err)
	}
	if err := policy.Check(target); err != nil {
		return provider.Target{}, fmt.Errorf("%w: %w", ErrSubjectSource, err)
	}
	got := make(map[provider.Resource]bool, len(target.Resources))
	for _, r := range target.Resources {
		got[r] = true
	}
	if !maps.Equal(got, want) {
		return provider.Target{}, fmt.Errorf("%w: its %s: scheme reads other resources for this subject than for others", ErrSubjectSource, target.Ref.Scheme)
	}
	return target, nil
}
