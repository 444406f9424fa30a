package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/client"
)

// Acked is one update the bridge acknowledged (answered 2xx): the
// producer's identity of the update (module, sequence number, idempotency
// key) and the record id the bridge answered with.
type Acked struct {
	Module string `json:"module"`
	Seq    int    `json:"seq"`
	Key    string `json:"idempotency_key"`
	ID     string `json:"record_id"`
}

// producers run one producer per module: each sends its module's updates
// one after the other (the next only once the previous was acknowledged),
// each with an Idempotency-Key and its sequence number in the data. On a
// connection error or a 5xx it sends the same update again, with the same
// key, to the next replica, as a producer behind a load balancer would;
// with several replicas its updates go to them in turn (round-robin).
type producers struct {
	run      string
	modules  []string
	bases    func() []string // the replicas' base URLs, read at each attempt
	interval time.Duration
	cap      int // updates to send in all; 0: until stopped
	hc       *http.Client

	started atomic.Int64 // updates begun (for the cap)
	refused atomic.Int64 // 503 answers (with Retry-After), e.g. the full disk
	connErr atomic.Int64 // connection errors (a replica down)

	mu         sync.Mutex
	acked      map[string][]Acked // by module, in acknowledgement order
	sent       map[string]int     // updates begun, by module
	retries    map[string]int     // attempts after the first, by module
	statuses   map[int]int        // every answer's status code
	unexpected []string           // answers that are neither 2xx nor retried (4xx)

	wg sync.WaitGroup
}

func newProducers(run string, modules []string, bases func() []string, interval time.Duration, capN int) *producers {
	return &producers{
		run: run, modules: modules, bases: bases, interval: interval, cap: capN,
		hc:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
		acked: map[string][]Acked{}, sent: map[string]int{}, retries: map[string]int{}, statuses: map[int]int{},
	}
}

// start runs the producers until stop is closed (each finishes the update
// it is sending) or ctx ends.
func (p *producers) start(ctx context.Context, stop <-chan struct{}) {
	for i, m := range p.modules {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.produce(ctx, stop, i, m)
		}()
	}
}

func (p *producers) wait() { p.wg.Wait() }

func (p *producers) produce(ctx context.Context, stop <-chan struct{}, idx int, module string) {
	next := idx // replica to try next
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(p.interval):
		}
		if p.cap > 0 && p.started.Add(1) > int64(p.cap) {
			return
		}
		p.mu.Lock()
		p.sent[module]++
		p.mu.Unlock()
		key := fmt.Sprintf("%s-%s-%d", p.run, module, seq)
		u := client.UpdateRequest{Module: module, IdempotencyKey: key,
			Data: map[string]any{"drill": p.run, "module": module, "seq": seq}}
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return
			}
			if attempt > 0 {
				p.mu.Lock()
				p.retries[module]++
				p.mu.Unlock()
			}
			bases := p.bases()
			base := bases[next%len(bases)]
			out, err := client.New(base, client.WithHTTPClient(p.hc)).Update(ctx, u)
			var apiErr *client.APIError
			switch {
			case err == nil:
				p.mu.Lock()
				p.statuses[200]++
				p.acked[module] = append(p.acked[module], Acked{Module: module, Seq: seq, Key: key, ID: out.RecordID})
				p.mu.Unlock()
				next++ // the next update to the next replica: a module's updates go through all of them
			case errors.As(err, &apiErr) && apiErr.StatusCode >= 500:
				p.mu.Lock()
				p.statuses[apiErr.StatusCode]++
				p.mu.Unlock()
				if apiErr.StatusCode == http.StatusServiceUnavailable {
					p.refused.Add(1)
				}
				next++
				sleep(ctx, min(max(apiErr.RetryAfter, 50*time.Millisecond), 500*time.Millisecond))
				continue
			case errors.As(err, &apiErr):
				p.mu.Lock()
				p.statuses[apiErr.StatusCode]++
				p.unexpected = append(p.unexpected, fmt.Sprintf("%s seq %d: %v", module, seq, err))
				p.mu.Unlock()
			default: // no answer: the bridge is down or cut the connection
				if ctx.Err() != nil {
					return
				}
				p.connErr.Add(1)
				next++
				sleep(ctx, 100*time.Millisecond)
				continue
			}
			break
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ackedCount is how many updates have been acknowledged so far.
func (p *producers) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acked {
		n += len(a)
	}
	return n
}
