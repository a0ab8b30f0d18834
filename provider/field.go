package provider

import (
	"context"
	"fmt"
)

// OneField returns a Provider that asks p and keeps only the field field of
// its answer: what a reference's #field means for a scheme whose secrets
// hold several fields. A missing field is [ErrNotFound]. It keeps p's name.
func OneField(p Provider, field string) Provider {
	return oneField{name: NameOf(p), field: field, p: p}
}

type oneField struct {
	name, field string
	p           Provider
}

func (o oneField) Name() string { return o.name }

func (o oneField) Retrieve(ctx context.Context, profile string) (Credentials, error) {
	c, err := o.p.Retrieve(ctx, profile)
	if err != nil {
		return Credentials{}, err
	}
	v := c.Get(o.field)
	if v.IsZero() {
		return Credentials{}, NotFound(o.name, profile, c.Source.Locator, fmt.Sprintf("the field %s is not set (the answer has %d other fields)", Describe(o.field), len(c.Names())))
	}
	out := NewCredentialsFromSecrets(map[string]Secret{o.field: v}, c.Source)
	out.FetchedAt, out.Expires = c.FetchedAt, c.Expires
	return out, nil
}
