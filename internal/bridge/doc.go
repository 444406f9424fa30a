// Package bridge is the domain of corebridge: records and their states, the
// update a Core module sends and its validation, the error type shared by
// every layer, and the Store interface that the SQLite and PostgreSQL stores
// implement. It imports nothing of HTTP or SQL.
package bridge
