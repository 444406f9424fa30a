package ingest

import "corebridge/internal/bridge"

// ErrQueueFull refuses a submit that would take the records waiting for
// delivery past MaxPending: nothing of it is stored.
var ErrQueueFull = &bridge.Error{Code: bridge.EUNAVAILABLE,
	Message: "queue is full: too many records waiting for delivery; retry later"}
