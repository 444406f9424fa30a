package bucket

import (
	"encoding/json"
	"unicode/utf8"
)

// appendRequest writes the body of POST /v1/records for recs. It is what
// json.Marshal(Request{recs}) writes, without the reflection and without
// re-validating each record's data: data comes from the bridge's store,
// where only compact, validated JSON objects are kept. A batch with data
// that does not even look like an object is left to encoding/json.
func appendRequest(b []byte, recs []Record) ([]byte, error) {
	b = append(b, `{"records":[`...)
	for i, r := range recs {
		if len(r.Data) == 0 || r.Data[0] != '{' || r.Data[len(r.Data)-1] != '}' {
			return json.Marshal(Request{Records: recs})
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, r.ID)
		b = append(b, `,"module":`...)
		b = appendString(b, r.Module)
		b = append(b, `,"session_id":`...)
		b = appendString(b, r.SessionID)
		b = append(b, `,"data":`...)
		b = append(b, r.Data...)
		b = append(b, `,"received_at":`...)
		b = appendString(b, r.ReceivedAt)
		if r.Hash != "" {
			b = append(b, `,"hash":`...)
			b = appendString(b, r.Hash)
		}
		if r.PrevHash != "" {
			b = append(b, `,"prev_hash":`...)
			b = appendString(b, r.PrevHash)
		}
		if r.FirstHash != "" {
			b = append(b, `,"first_hash":`...)
			b = appendString(b, r.FirstHash)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD (as encoding/json does).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
