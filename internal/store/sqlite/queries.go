package sqlite

// The statements of the write path, prepared once when the store opens:
// SQLite parses every statement it is given, and on the write path, where
// every batch runs these same few, parsing was a fifth of the CPU.
const (
	qInsertRecord = `INSERT INTO records
		(id, module, session_id, data, received_at, next_attempt_at, dedupe_key, hash, prev_hash, skip_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qFindOriginal = `SELECT id, module, session_id, data, received_at, dedupe_key FROM records WHERE seq = ?`
	// qFreeHeads reads each module's pending head: its first record in
	// state 0 above the synced position, and its first replayed one
	// (state 3), with their due times (settle.go).
	qFreeHeads = `SELECT m.module,
			(SELECT seq FROM records r WHERE r.module = m.module AND r.state = 0 AND r.seq > m.synced_seq ORDER BY seq LIMIT 1),
			(SELECT next_attempt_at FROM records r WHERE r.module = m.module AND r.state = 0 AND r.seq > m.synced_seq ORDER BY seq LIMIT 1),
			(SELECT seq FROM records r WHERE r.module = m.module AND r.state = 3 ORDER BY seq LIMIT 1),
			(SELECT next_attempt_at FROM records r WHERE r.module = m.module AND r.state = 3 ORDER BY seq LIMIT 1)
		FROM modules m WHERE m.pending > 0`
	// qLeaseBatch reads a module's pending records above its synced
	// position, up to the last durable seq; qLeaseAgain its replayed ones.
	qLeaseBatch = `SELECT ` + recordCols + ` FROM records
		WHERE module = ? AND state = 0 AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`
	qLeaseAgain = `SELECT ` + recordCols + ` FROM records
		WHERE module = ? AND state = 3 ORDER BY seq LIMIT ?`
	// qDeadHead is a module's oldest dead record, for strict order.
	qDeadHead     = `SELECT seq FROM records WHERE module = ? AND state = 2 ORDER BY seq LIMIT 1`
	qSettleSynced = `UPDATE records SET state = 1, synced_at = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?) RETURNING received_at`
	qSettleDead = `UPDATE records SET state = 2, last_error = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?)`
	qSettleRetry = `UPDATE records SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?)`
	qSettleSyncedSeq = `UPDATE records SET state = 1, synced_at = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?) RETURNING received_at`
	qSettleDeadSeq = `UPDATE records SET state = 2, last_error = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?)`
	qSettleRetrySeq = `UPDATE records SET next_attempt_at = ?, last_error = ?, attempts = attempts + 1
			WHERE seq IN (SELECT value FROM json_each(?)) AND +module = ? AND (+state = 3 OR +state = 0 AND seq > ?)`
	qSettleCount = `UPDATE modules SET pending = pending - ?1, synced = synced + ?2, dead = dead + ?3,
		dead_total = dead_total + ?3, last_sync_at = max(last_sync_at, ?4), synced_seq = max(synced_seq, ?6)
		WHERE module = ?5`
	// qSyncMark notes when a module's position moved, one row per second.
	qSyncMark = `INSERT INTO sync_marks (module, sec, seq, at) VALUES (?1, ?2 / 1000000, ?3, ?2)
		ON CONFLICT (module, sec) DO UPDATE SET seq = max(seq, excluded.seq), at = excluded.at`
	qInsertAttempt = `INSERT INTO attempts (at, module, lease_id, first_seq, last_seq, records, outcome,
			http_status, error, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// qOldestPending is the received_at of the oldest pending record (0 if none).
const qOldestPending = `SELECT coalesce(min(min(
		coalesce((SELECT received_at FROM records r WHERE r.module = m.module AND r.state = 0
			AND r.seq > m.synced_seq ORDER BY seq LIMIT 1), 9223372036854775807),
		coalesce((SELECT received_at FROM records r WHERE r.module = m.module AND r.state = 3
			ORDER BY seq LIMIT 1), 9223372036854775807))), 0)
	FROM modules m WHERE m.pending > 0`

// qStats sums the module counters.
const qStats = `SELECT coalesce(sum(received), 0), coalesce(sum(pending), 0),
	coalesce(sum(synced), 0), coalesce(sum(dead), 0), coalesce(max(last_sync_at), 0) FROM modules`

// qModules reads every module's counters, and for a module with dead
// records its oldest one and whether it precedes every pending record
// (two index seeks, only for such modules).
const qModules = `SELECT module, received, pending, synced, dead, last_seen_at, last_sync_at,
	dead_total, replayed, interval_us, intervals,
	CASE WHEN dead > 0 THEN coalesce((SELECT id FROM records r WHERE r.module = m.module AND r.state = 2
		ORDER BY seq LIMIT 1), '') ELSE '' END,
	CASE WHEN dead > 0 AND pending > 0 THEN coalesce(
		(SELECT seq FROM records r WHERE r.module = m.module AND r.state = 2 ORDER BY seq LIMIT 1) < min(
			coalesce((SELECT seq FROM records r WHERE r.module = m.module AND r.state = 0 AND r.seq > m.synced_seq
				ORDER BY seq LIMIT 1), 9223372036854775807),
			coalesce((SELECT seq FROM records r WHERE r.module = m.module AND r.state = 3 ORDER BY seq LIMIT 1),
				9223372036854775807)), 0)
		ELSE 0 END
	FROM modules m ORDER BY module`

// readQueries are prepared on the read pool at Open: the status routes
// run these on every call, and parsing them cost more than running them.
var readQueries = []string{qFreeHeads, qLeaseBatch, qLeaseAgain, qDeadHead, qGet, qStats, qOldestPending, qModules, qRollups, qRunBlock, qRunsBlocks, qRunBlocks, qRunKeys}

// writeQueries are prepared on the write connection at Open.
var writeQueries = []string{qInsertRecord, qFindOriginal,
	qSettleSynced, qSettleDead, qSettleRetry, qSettleCount, qInsertAttempt,
	qSettleSyncedSeq, qSettleDeadSeq, qSettleRetrySeq, qSyncMark, qAddRollup, qAddArrivals,
	qNewModules, qCountModules, qAddArrivalsJSON,
	qRunBlock, qInsertBlock, qRunsBlocks}
