// Package bridge is the domain of corebridge: records and their states, the
// update a Core module sends and its validation, the error type shared by
// every layer, and the Store interface. The SQLite store
// (internal/store/sqlite) implements it; the conformance suite
// (internal/store/storetest) checks that a store keeps its contract, and
// any store must pass it. It imports nothing of HTTP or SQL.
package bridge
