package automation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Assertion is one check on a JSON answer, written as
// `field op value`: `pending_queue < 1000`, `status == "ok"`,
// `module_sync_counts.education >= 1`. Strings and booleans compare with
// == and != only; numbers with any of == != < <= > >=.
type Assertion struct {
	Text  string
	Field string // dotted path into the answer
	Op    string
	Value any // float64, string or bool
}

var assertionRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*(==|!=|<=|>=|<|>)\s*(\S.*?)\s*$`)

// ParseAssertion reads one assertion; the error says what is wrong with it.
func ParseAssertion(s string) (Assertion, error) {
	m := assertionRE.FindStringSubmatch(s)
	if m == nil {
		return Assertion{}, fmt.Errorf(`cannot read %q: want "field op value", e.g. "pending_queue < 100" or "status == \"ok\""`, s)
	}
	a := Assertion{Text: strings.TrimSpace(s), Field: m[1], Op: m[2]}
	lit := m[3]
	switch {
	case strings.HasPrefix(lit, `"`):
		var v string
		if err := json.Unmarshal([]byte(lit), &v); err != nil {
			return Assertion{}, fmt.Errorf("in %q: %s is not a quoted string", s, lit)
		}
		a.Value = v
	case lit == "true" || lit == "false":
		a.Value = lit == "true"
	default:
		if f, err := strconv.ParseFloat(lit, 64); err == nil {
			a.Value = f
		} else if strings.ContainsAny(lit, " \t\"'") {
			return Assertion{}, fmt.Errorf("in %q: quote the string value: %q", s, lit)
		} else {
			a.Value = lit // a bare word: status == ok
		}
	}
	if _, num := a.Value.(float64); !num && a.Op != "==" && a.Op != "!=" {
		return Assertion{}, fmt.Errorf("in %q: %s compares numbers only", s, a.Op)
	}
	return a, nil
}

// Check evaluates the assertion on a decoded JSON answer and says why it
// does not hold.
func (a Assertion) Check(doc map[string]any) error {
	var got any = doc
	for _, k := range strings.Split(a.Field, ".") {
		obj, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("assertion %q failed: the answer has no field %s", a.Text, a.Field)
		}
		if got, ok = obj[k]; !ok {
			return fmt.Errorf("assertion %q failed: the answer has no field %s", a.Text, a.Field)
		}
	}
	if held, ok := compare(got, a.Op, a.Value); !ok {
		return fmt.Errorf("assertion %q failed: %s is %s, which cannot be compared with %s", a.Text, a.Field, show(got), show(a.Value))
	} else if !held {
		return fmt.Errorf("assertion %q failed: %s is %s", a.Text, a.Field, show(got))
	}
	return nil
}

// compare applies op; ok is false when the two values are of kinds that
// op cannot compare.
func compare(got any, op string, want any) (held, ok bool) {
	if w, isNum := want.(float64); isNum {
		g, isNum := got.(float64)
		if !isNum {
			return false, false
		}
		switch op {
		case "==":
			return g == w, true
		case "!=":
			return g != w, true
		case "<":
			return g < w, true
		case "<=":
			return g <= w, true
		case ">":
			return g > w, true
		case ">=":
			return g >= w, true
		}
		return false, false
	}
	switch want.(type) {
	case string:
		if _, isStr := got.(string); !isStr {
			return false, false
		}
	case bool:
		if _, isBool := got.(bool); !isBool {
			return false, false
		}
	}
	if op == "==" {
		return got == want, true
	}
	return got != want, true
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
