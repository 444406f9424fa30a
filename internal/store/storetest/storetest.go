// Package storetest is the conformance suite for bridge.Store. Every store
// runs Run against itself (the SQLite store does, in its tests), so that
// ingest and delivery can rely on the contract written in bridge.Store
// rather than on the habits of one implementation.
package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

// Harness opens stores for the suite. New makes a fresh, empty location
// (for the SQLite store, a file in a temp dir) and returns a function that
// opens a Store on it; the suite may call open, Close, and open again to
// test durability.
type Harness struct {
	New func(t *testing.T) (open func() (bridge.Store, error))

	// Replicas says that open may be called again while handles it
	// returned are open, each a handle on the same store (as serve
	// replicas share one database): the Replicas group runs then.
	Replicas bool
	// Kill, with Replicas, ends a handle as a crash would (its
	// connections dropped, nothing released); nil: Close.
	Kill func(bridge.Store)
}

// test is one case of the suite; it gets a fresh, open store.
type test struct {
	name string
	fn   func(t *testing.T, e *env)
}

// suite lists every case, grouped by the part of the contract it checks.
var suite = []struct {
	group string
	tests []test
}{
	{"Append", []test{
		{"ReturnsOnePerInputInOrder", testAppendReturns},
		{"GetReturnsAllFields", testAppendGet},
		{"SeqIncreasesInAppendOrder", testAppendSeq},
		{"NewRecordIsDueAtReceivedAt", testAppendDue},
		{"FailedBatchStoresNothing", testAppendAtomic},
		{"GetUnknownIsNotFound", testGetUnknown},
	}},
	{"Dedupe", []test{
		{"LaterCallGetsOriginal", testDedupeLaterCall},
		{"SameCallGetsFirst", testDedupeSameCall},
		{"SinceBoundsTheOriginal", testDedupeSinceBounds},
		{"SinceHoldsAcrossReopen", testDedupeSinceAcrossReopen},
		{"OtherContentConflicts", testDedupeConflict},
		{"EmptyKeyNeverDedupes", testDedupeEmptyKey},
		{"SyncedOriginalStillDedupes", testDedupeAfterSync},
		{"DedupesAcrossReopen", testDedupeAcrossReopen},
		{"PurgedOriginalDoesNotDedupe", testDedupeAfterPurge},
		{"PrunedOriginalDoesNotDedupe", testDedupeAfterPrune},
	}},
	{"Lease", []test{
		{"PerModuleAcceptanceOrder", testLeaseOrder},
		{"MaxRecords", testLeaseMaxRecords},
		{"MaxBytes", testLeaseMaxBytes},
		{"NilWhenNothingDue", testLeaseNothingDue},
		{"ExclusiveUntilSettled", testLeaseExclusive},
		{"ExclusiveUntilExpired", testLeaseExpires},
		{"SurvivesWallClockStepForward", testLeaseSurvivesStepForward},
		{"DueAfterWallClockStepBack", testLeaseAfterStepBack},
		{"HeadOfLineBlocksOnlyItsModule", testHeadOfLine},
		{"ConcurrentLeasesTakeDistinctModules", testConcurrentLeaseOnce},
		{"ConcurrentWorkersKeepModuleOrder", testConcurrentDrain},
	}},
	{"Fencing", []test{
		{"StaleSettleIsRefused", testStaleSettle},
		{"ExpiredSettleIsRefused", testExpiredSettle},
		{"ExtendKeepsTheModule", testExtendLease},
		{"ReleaseFreesOnlyItsOwner", testReleaseByOwner},
	}},
	{"StrictOrder", []test{
		{"DeadRecordBlocksItsModule", testStrictBlocks},
		{"OtherModulesPass", testStrictOthersPass},
		{"ReplayedGoesFirst", testStrictReplay},
		{"PurgeUnblocks", testStrictPurge},
		{"LeaseStopsBeforeDead", testStrictStopsBeforeDead},
	}},
	{"Settle", []test{
		{"Synced", testSettleSynced},
		{"Dead", testSettleDead},
		{"Retry", testSettleRetry},
		{"UnnamedRecordsStayDue", testSettleUnnamed},
	}},
	{"ReplayDead", []test{
		{"ByIDs", testReplayByIDs},
		{"ByModule", testReplayByModule},
		{"All", testReplayAll},
		{"NonDeadIsUntouched", testReplayNotDead},
		{"SelectorPrecedence", testReplayPrecedence},
		{"AllInPages", testReplayAllPages},
		{"ModuleInPages", testReplayModulePages},
	}},
	{"PurgeDead", []test{
		{"ByIDs", testPurgeByIDs},
		{"ByModule", testPurgeByModule},
		{"All", testPurgeAll},
		{"NoSelectorIsInvalid", testPurgeNoSelector},
		{"SelectorPrecedence", testPurgePrecedence},
		{"InPages", testPurgeAllPages},
	}},
	{"ListDead", []test{
		{"PagesInSeqOrder", testListDeadPaging},
		{"ModuleFilter", testListDeadModule},
	}},
	{"Attempts", []test{
		{"RecordedForTheBatchRange", testAttemptsRecorded},
		{"UnknownIsNotFound", testAttemptsUnknown},
		{"NoneWithoutAttempt", testAttemptsNoneWithoutAttempt},
		{"CountsSince", testAttemptCounts},
	}},
	{"Stats", []test{
		{"Empty", testStatsEmpty},
		{"AfterMixedOperations", testStatsMix},
	}},
	{"Rollups", []test{
		{"CountWhatHappens", testRollupsCountWhatHappens},
		{"AddRollups", testAddRollups},
		{"Prune", testPruneRollups},
		{"ModuleInterval", testModuleInterval},
		{"ModuleIntervalResistsBursts", testModuleIntervalResistsBursts},
	}},
	{"EditDead", []test{
		{"ReplacesDataKeepsHistory", testEditDead},
		{"KeepsAuthor", testEditAuthor},
	}},
	{"Audit", []test{
		{"NewestFirst", testAuditNewestFirst},
		{"Paging", testAuditPaging},
		{"DurableAcrossReopen", testAuditDurable},
	}},
	{"Prune", []test{
		{"OnlyOldSyncedUpToLimit", testPrune},
		{"OldAttemptsUpToLimit", testPruneAttempts},
		{"ZeroAttemptsBeforeKeepsAttempts", testPruneKeepsAttempts},
		{"DeadLettersKeepAttemptsAndEdits", testPruneKeepsDeadLetters},
	}},
	{"Durability", []test{
		{"ReopenKeepsEverything", testReopen},
		{"Ping", testPing},
	}},
	{"Concurrency", []test{
		{"ParallelAppends", testConcurrentAppend},
	}},
}

// Run runs the whole suite against the stores h opens. Each subtest gets a
// fresh location.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	for _, g := range suite {
		t.Run(g.group, func(t *testing.T) {
			for _, c := range g.tests {
				t.Run(c.name, func(t *testing.T) { c.fn(t, newEnv(t, h)) })
			}
		})
	}
	runChain(t, h)
	if !h.Replicas {
		return
	}
	kill := h.Kill
	if kill == nil {
		kill = func(s bridge.Store) { s.Close() }
	}
	t.Run("Replicas", func(t *testing.T) {
		for _, c := range replicas {
			t.Run(c.name, func(t *testing.T) { c.fn(t, newEnv(t, h)) })
		}
		t.Run("KilledHandleIsTakenOverOnce", func(t *testing.T) { testReplicaKilled(t, newEnv(t, h), kill) })
	})
}
