package insight

import (
	"sync"
	"testing"
	"time"
)

func TestFeedDeliversInOrder(t *testing.T) {
	f := NewFeed()
	s := f.Subscribe(8)
	defer s.Unsubscribe()
	f.Publish(Event{Kind: KindAccepted, RecordID: "a"}, Event{Kind: KindSynced, RecordID: "b"})
	for _, want := range []string{"a", "b"} {
		select {
		case e := <-s.C():
			if e.RecordID != want {
				t.Fatalf("got %q, want %q", e.RecordID, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no event %q", want)
		}
	}
	if n := s.TakeLost(); n != 0 {
		t.Fatalf("lost %d, want 0", n)
	}
}

func TestFeedSlowSubscriberLosesAndIsTold(t *testing.T) {
	f := NewFeed()
	slow := f.Subscribe(2)
	fast := f.Subscribe(100)
	defer slow.Unsubscribe()
	defer fast.Unsubscribe()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			f.Publish(Event{Kind: KindAccepted, Count: i})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	if got := len(fast.C()); got != 10 {
		t.Fatalf("fast subscriber has %d events, want 10", got)
	}
	if got := slow.TakeLost(); got != 8 {
		t.Fatalf("slow subscriber lost %d, want 8", got)
	}
	if got := slow.TakeLost(); got != 0 {
		t.Fatalf("TakeLost did not reset: %d", got)
	}
}

func TestFeedUnsubscribeClosesAndIsIdempotent(t *testing.T) {
	f := NewFeed()
	s := f.Subscribe(1)
	s.Unsubscribe()
	s.Unsubscribe()
	if _, ok := <-s.C(); ok {
		t.Fatal("channel still open after Unsubscribe")
	}
	if f.Subscribers() != 0 {
		t.Fatalf("%d subscribers left", f.Subscribers())
	}
	f.Publish(Event{Kind: KindAccepted}) // must not panic on a closed channel
}

func TestFeedConcurrentPublishAndUnsubscribe(t *testing.T) {
	f := NewFeed()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				f.Publish(Event{Kind: KindSynced})
			}
		}()
	}
	for i := 0; i < 50; i++ {
		s := f.Subscribe(4)
		s.Unsubscribe()
	}
	wg.Wait()
}
