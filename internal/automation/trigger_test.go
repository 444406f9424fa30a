package automation

import (
	"testing"
	"time"
)

func TestScheduleNextAndMissed(t *testing.T) {
	at := func(hm string) time.Time {
		tm, err := time.Parse("15:04:05", hm)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 11, 29, tm.Hour(), tm.Minute(), tm.Second(), 0, time.UTC)
	}
	every5 := mustParse(t, `{"jobs":[{"name":"a","trigger":{"type":"intervalMinutes","value":5},"actions":[{"type":"get_bucket_status"}]}]}`).Jobs[0].Trigger
	quarter := mustParse(t, `{"jobs":[{"name":"a","trigger":{"type":"cron","value":"*/15 * * * *","timezone":"Asia/Kolkata"},"actions":[{"type":"get_bucket_status"}]}]}`).Jobs[0].Trigger
	hourly := mustParse(t, `{"jobs":[{"name":"a","trigger":{"type":"cron","value":"0 * * * *","timezone":"Asia/Kolkata"},"actions":[{"type":"get_bucket_status"}]}]}`).Jobs[0].Trigger
	s5, _ := newSchedule(every5, 0, at("12:42:00"))
	sh, _ := newSchedule(hourly, 0, time.Time{})
	sq, _ := newSchedule(quarter, 0, time.Time{})
	tests := []struct {
		name       string
		s          schedule
		from       time.Time
		next, due  time.Time
		last       time.Time
		missedTill time.Time
		missed     int
	}{
		{"interval before anchor", s5, at("12:00:00"), at("12:47:00"), at("12:47:00"), at("12:42:00"), at("12:47:00"), 0},
		{"interval on a slot", s5, at("12:52:00"), at("12:57:00"), at("12:52:00"), at("12:42:00"), at("12:52:00"), 1},
		{"interval between slots", s5, at("12:53:10"), at("12:57:00"), at("12:57:00"), at("12:42:00"), at("13:00:00"), 3},
		// Kolkata is UTC+5:30, so its quarter hours fall on UTC quarter hours too.
		{"cron in a zone", sq, at("12:50:00"), at("13:00:00"), at("13:00:00"), at("12:31:00"), at("13:00:00"), 1},
		{"hourly in a half-hour zone", sh, at("12:50:00"), at("13:30:00"), at("13:30:00"), at("11:30:00"), at("13:30:00"), 1},
		{"cron on a slot", sq, at("13:00:00"), at("13:15:00"), at("13:00:00"), at("12:00:00"), at("13:00:01"), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.next(tt.from); !got.Equal(tt.next) {
				t.Errorf("next(%v) = %v, want %v", tt.from, got, tt.next)
			}
			if got := tt.s.firstDue(tt.from); !got.Equal(tt.due) {
				t.Errorf("firstDue(%v) = %v, want %v", tt.from, got, tt.due)
			}
			if got := tt.s.missed(tt.last, tt.missedTill); got != tt.missed {
				t.Errorf("missed(%v, %v) = %d, want %d", tt.last, tt.missedTill, got, tt.missed)
			}
		})
	}
}
