package sqlite

// The statements of the write path, prepared once when the store opens:
// SQLite parses every statement it is given, and on the write path, where
// every batch runs these same few, parsing was a fifth of the CPU.
const (
	qInsertRecord = `INSERT INTO records
		(id, module, session_id, data, received_at, next_attempt_at, dedupe_key)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qCountModule = `INSERT INTO modules (module, received, pending, last_seen_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (module) DO UPDATE SET
			received = received + excluded.received, pending = pending + excluded.pending,
			last_seen_at = max(last_seen_at, excluded.last_seen_at)`
	qFindOriginal = `SELECT id, session_id, received_at FROM records WHERE dedupe_key = ?`
	qFreeHeads    = `SELECT m.module,
			(SELECT seq FROM records r WHERE r.module = m.module AND r.state = 0 ORDER BY seq LIMIT 1),
			(SELECT next_attempt_at FROM records r WHERE r.module = m.module AND r.state = 0 ORDER BY seq LIMIT 1)
		FROM modules m WHERE m.pending > 0`
	qLeaseBatch = `SELECT ` + recordCols + ` FROM records
		WHERE module = ? AND state = 0 ORDER BY seq LIMIT ?`
	qSettleSynced = `UPDATE records SET state = 1, synced_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0 RETURNING received_at`
	qSettleDead = `UPDATE records SET state = 2, last_error = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0`
	qSettleRetry = `UPDATE records SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0`
	qSettleSyncedSeq = `UPDATE records SET state = 1, synced_at = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0 RETURNING received_at`
	qSettleDeadSeq = `UPDATE records SET state = 2, last_error = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0`
	qSettleRetrySeq = `UPDATE records SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND +state = 0`
	qSettleCount = `UPDATE modules SET pending = pending - ?, synced = synced + ?, dead = dead + ?,
		last_sync_at = max(last_sync_at, ?) WHERE module = ?`
	qInsertAttempt = `INSERT INTO attempts (at, module, lease_id, first_seq, last_seq, records, outcome,
			http_status, error, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// qOldestPending is the received_at of the oldest pending record (0 if none).
const qOldestPending = `SELECT coalesce(min((SELECT received_at FROM records r
	WHERE r.module = m.module AND r.state = 0 ORDER BY seq LIMIT 1)), 0)
	FROM modules m WHERE m.pending > 0`

// qLatencySince sums the sync log from a time on.
const qLatencySince = `SELECT coalesce(sum(records), 0), coalesce(sum(latency_us_sum), 0) FROM sync_log WHERE at >= ?`

// qSyncLog records one settle's syncs for the latency figures.
const qSyncLog = `INSERT INTO sync_log (at, module, records, latency_us_sum) VALUES (?, ?, ?, ?)`

// readQueries are prepared on the read pool at Open.
var readQueries = []string{qFreeHeads, qLeaseBatch}

// writeQueries are prepared on the write connection at Open.
var writeQueries = []string{qInsertRecord, qCountModule, qFindOriginal,
	qSettleSynced, qSettleDead, qSettleRetry, qSettleCount, qInsertAttempt,
	qSettleSyncedSeq, qSettleDeadSeq, qSettleRetrySeq, qSyncLog}
