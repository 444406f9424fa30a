package bridge

import (
	"encoding/json"
	"slices"
)

// Splitting JSON that checkJSON has already validated (valid JSON, valid
// UTF-8, bounded depth) in one pass: an object's members and an array's
// items as byte spans, without encoding/json's own validation and
// decoding of every value again. A body used to be read four or five
// times (checkJSON, json.Unmarshal's validation and decoding into a map,
// each string again); in a batch of 1,000 updates that was 43% of serve's
// CPU (issue 16). These functions assume valid input: on anything else
// they return ok = false rather than guess.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// valueEnd returns the index just after the JSON value that starts at i.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := stringEnd(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default: // number, true, false, null
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, j > i
			}
			j++
		}
		return j, j > i
	}
}

// stringEnd returns the index just after the string that starts at i.
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// member is one name and value of an object.
type member struct {
	name  string
	value []byte
}

// objectMembers returns the members of the object b holds (spaces around
// it allowed), in order; a name that appears twice appears twice.
func objectMembers(b []byte) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	var out []member
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, true
	}
	for i < len(b) {
		end, ok := stringEnd(b, i)
		if !ok || b[i] != '"' {
			return nil, false
		}
		name, ok := stringValue(b[i:end])
		if !ok {
			return nil, false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		vend, ok := valueEnd(b, i)
		if !ok {
			return nil, false
		}
		out = append(out, member{name, b[i:vend]})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// arrayItems returns the items of the array b holds (spaces around it
// allowed).
func arrayItems(b []byte) ([][]byte, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	var out [][]byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, true
	}
	for i < len(b) {
		end, ok := valueEnd(b, i)
		if !ok {
			return nil, false
		}
		out = append(out, b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// stringValue decodes a JSON string value (b is exactly the string, quotes
// included): without escapes its bytes are the value (checkJSON made sure
// they are UTF-8 and hold no control character); with escapes
// encoding/json decodes it.
func stringValue(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	if !slices.Contains(b[1:len(b)-1], '\\') {
		return string(b[1 : len(b)-1]), true
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false
	}
	return s, true
}
