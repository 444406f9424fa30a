package auth

import "slices"

// ByName returns the principal of the token named name, if one is loaded:
// for a client that proved who it is another way (a verified client
// certificate whose name is the token's). The principal is a copy the
// caller may keep. Token names are unique in a file.
func (t *Tokens) ByName(name string) (*Principal, bool) {
	set := t.current()
	for i := range set.tokens {
		if set.tokens[i].principal.Name == name {
			p := set.tokens[i].principal
			p.Modules = slices.Clone(p.Modules)
			return &p, true
		}
	}
	return nil, false
}
