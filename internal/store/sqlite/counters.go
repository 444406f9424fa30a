package sqlite

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
)

// Counters in one statement per commit (issue 16): a group commit adds
// its records to each of its modules' counters and to each of its
// (minute, module) rollups. One statement per module and one per rollup
// row was eight statements a commit with four producers' modules; these
// take the rows as a JSON array, so a commit runs one of each (and one
// more the first time a module is seen).

// qNewModules creates modules never seen before (a JSON array of names)
// with zero counts, for qCountModules to add to.
const qNewModules = `INSERT OR IGNORE INTO modules (module) SELECT value FROM json_each(?)`

// qCountModules adds a commit's records to its modules: a JSON array of
// [module, records, last seen, first seen, chain head in hex] (the
// chain head is the hash of the commit's last record of the module, and
// a skip the module held went to its first: chain.go), and learns each module's
// usual gap (bridge.ModuleSummary.Interval): from the whole seconds
// between the second of this commit's first record and the second of the
// last one seen, so that a burst of commits within a second teaches
// nothing and no gap is under a second; the interval rises by 1/8 of a
// longer gap's excess and falls by 1/32 of a shorter one's, leaning
// towards the longer gaps, so a burst moves it little. A sub-second
// interval (learnt by the rule before this one) is replaced by the first
// gap. A first seen of 0 (only load-test records) learns nothing, nor
// does a row qNewModules just made (received 0) from its first commit.
const qCountModules = `UPDATE modules SET
	received = received + c.n, pending = pending + c.n,
	interval_us = CASE WHEN received = 0 OR c.f / 1000000 <= last_seen_at / 1000000 THEN interval_us
		WHEN intervals = 0 OR interval_us < 1000000 THEN (c.f / 1000000 - last_seen_at / 1000000) * 1000000
		WHEN (c.f / 1000000 - last_seen_at / 1000000) * 1000000 >= interval_us
		THEN interval_us + ((c.f / 1000000 - last_seen_at / 1000000) * 1000000 - interval_us) / 8
		ELSE interval_us - (interval_us - (c.f / 1000000 - last_seen_at / 1000000) * 1000000) / 32 END,
	intervals = CASE WHEN received = 0 OR c.f / 1000000 <= last_seen_at / 1000000 THEN intervals
		WHEN interval_us < 1000000 THEN 1 ELSE intervals + 1 END,
	last_seen_at = max(last_seen_at, c.l),
	chain_head = unhex(c.h), chain_skip = NULL
	FROM (SELECT value ->> 0 AS m, value ->> 1 AS n, value ->> 2 AS l, value ->> 3 AS f, value ->> 4 AS h FROM json_each(?)) AS c
	WHERE modules.module = c.m`

// qAddArrivalsJSON is qAddArrivals for every rollup row of a commit: a
// JSON array of [minute, module, received, duplicates].
const qAddArrivalsJSON = `INSERT INTO rollups (minute, module, received, duplicates)
	SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
	ON CONFLICT (minute, module) DO UPDATE SET
	received = received + excluded.received, duplicates = duplicates + excluded.duplicates`

// appendCounts adds one module's row to a JSON array being built.
func appendCounts(b []byte, module string, n, last, first int64, head [32]byte) []byte {
	b = openRow(b)
	b = appendJSONString(b, module)
	for _, v := range []int64{n, last, first} {
		b = append(b, ',')
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, ',', '"')
	b = hex.AppendEncode(b, head[:])
	return append(b, '"', ']')
}

// appendArrivals adds one rollup row to a JSON array being built.
func appendArrivals(b []byte, minute int64, module string, received, duplicates int64) []byte {
	b = openRow(b)
	b = strconv.AppendInt(b, minute, 10)
	b = append(b, ',')
	b = appendJSONString(b, module)
	b = append(b, ',')
	b = strconv.AppendInt(b, received, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, duplicates, 10)
	return append(b, ']')
}

func openRow(b []byte) []byte {
	if b == nil {
		return append(b, '[', '[')
	}
	return append(b, ',', '[')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func jsonStrings(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// knownModules are modules whose row exists (committed): a commit of
// their records needs no qNewModules. Rows are never deleted.
type knownModules struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *Store) knownModule(m string) bool {
	s.known.mu.Lock()
	defer s.known.mu.Unlock()
	return s.known.m[m]
}

// knowModules notes modules whose rows a commit created.
func (s *Store) knowModules(ms []string) {
	if len(ms) == 0 {
		return
	}
	s.known.mu.Lock()
	defer s.known.mu.Unlock()
	if s.known.m == nil {
		s.known.m = map[string]bool{}
	}
	for _, m := range ms {
		s.known.m[m] = true
	}
}
