package keychain

import (
	"github.com/mcpcred/mcpcred/provider"

	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// DefaultService is the default prefix of keychain service names: a
	// profile's items live under service "mcpcred:PROFILE".
	DefaultService = "mcpcred"
	// FieldsAccount is the account name of a profile's index item, which
	// lists the profile's field names as JSON. Field names cannot start with
	// "_", so it never clashes with a field.
	FieldsAccount = "_fields"
	// ProfilesAccount is the account name, under the bare service prefix
	// ("mcpcred"), of the item listing the profiles stored by this package.
	ProfilesAccount = "_profiles"
	// MaxProfileLen and MaxFieldLen bound name lengths in bytes: the limits
	// of every package of this module.
	MaxProfileLen = provider.MaxNameLen
	MaxFieldLen   = provider.MaxFieldLen
)

// serviceName maps a profile onto a keychain service name.
func serviceName(prefix, profile string) string { return prefix + ":" + profile }

// validProfile reports why profile cannot be a keychain profile name, or "".
//
// A profile becomes part of a service name, and Windows joins service and
// account into one target name "service:account"; a ":" in a profile would
// make "a:b" + "c" and "a" + "b:c" the same credential, so it is refused.
func validProfile(profile string) string {
	switch {
	case profile == "":
		return "profile name is empty"
	case len(profile) > MaxProfileLen:
		return fmt.Sprintf("profile name is longer than %d bytes", MaxProfileLen)
	case !utf8.ValidString(profile):
		return "profile name is not valid UTF-8"
	case strings.Contains(profile, ":"):
		return `profile name contains ":", which keychain names use as a separator`
	case strings.IndexFunc(profile, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return "profile name contains a space or control character"
	}
	return ""
}

// validField reports why name cannot be a field name, or "". Field names are
// 1 to [MaxFieldLen] of A-Z a-z 0-9 _ . - and start with a letter or digit.
func validField(name string) string {
	if name == "" {
		return "field name is empty"
	}
	if len(name) > MaxFieldLen {
		return fmt.Sprintf("field name is longer than %d bytes", MaxFieldLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return "field name must be letters, digits, '_', '.' or '-', starting with a letter or digit"
		}
	}
	return ""
}

// index is the JSON held by the index items:
//
//	{"version":1,"fields":["access_key_id","secret_access_key"]}
//	{"version":1,"profiles":["default","work"]}
type index struct {
	Version  int      `json:"version"`
	Fields   []string `json:"fields,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
}

const indexVersion = 1

// parseFieldIndex parses a profile's index item. Errors never quote the
// input.
func parseFieldIndex(s string) ([]string, error) {
	ix, err := parseIndex(s)
	if err != nil {
		return nil, err
	}
	for _, f := range ix.Fields {
		if validField(f) != "" {
			return nil, fmt.Errorf("%w: lists an invalid field name", ErrBadIndex)
		}
	}
	return normalize(ix.Fields), nil
}

// parseProfileIndex parses the profile list item.
func parseProfileIndex(s string) ([]string, error) {
	ix, err := parseIndex(s)
	if err != nil {
		return nil, err
	}
	for _, p := range ix.Profiles {
		if validProfile(p) != "" {
			return nil, fmt.Errorf("%w: lists an invalid profile name", ErrBadIndex)
		}
	}
	return normalize(ix.Profiles), nil
}

func parseIndex(s string) (index, error) {
	var ix index
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ix); err != nil || dec.More() {
		// The decoder's message can quote input; say only what is wrong.
		return index{}, fmt.Errorf(`%w: not JSON of the form {"version":1,...}`, ErrBadIndex)
	}
	if ix.Version != indexVersion {
		return index{}, fmt.Errorf("%w: unsupported version %d (want %d)", ErrBadIndex, ix.Version, indexVersion)
	}
	return ix, nil
}

func encodeFieldIndex(fields []string) string {
	b, _ := json.Marshal(index{Version: indexVersion, Fields: normalize(fields)})
	return string(b)
}

func encodeProfileIndex(profiles []string) string {
	b, _ := json.Marshal(index{Version: indexVersion, Profiles: normalize(profiles)})
	return string(b)
}

// normalize returns names sorted, without duplicates.
func normalize(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
