// Package registry is the optional list of known modules (issue 19): the
// module names a bridge accepts, a JSON Schema per module that its
// records' data must match, and per-module settings. It comes from the
// `modules:` section of the config file (corebridge.yaml).
package registry

import (
	"encoding/json"
	"time"
)

// ModuleSpec is one module of the registry, as the config file gives it.
type ModuleSpec struct {
	// Name is the module's name (the `module` field of an update).
	Name string
	// Schema is a JSON Schema (draft 2020-12) that each record's data
	// must match; nil: any JSON object.
	Schema json.RawMessage
	// SilenceMaxGap, when > 0, is how long the module may stay silent
	// before it is flagged (the module's own --silence-max-gap).
	SilenceMaxGap time.Duration
	// StrictOrder, when not nil, says whether a dead record of this
	// module blocks its later ones (the module's own --strict-order).
	StrictOrder *bool
}
