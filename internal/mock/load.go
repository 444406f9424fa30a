package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/client"
	"corebridge/internal/bridge"
)

// LoadConfig says how hard and how long Load drives the bridge.
type LoadConfig struct {
	URL         string        // base URL of the bridge, e.g. http://127.0.0.1:8000
	Token       string        // bearer token; "" sends none
	Secret      string        // signing secret (whsec_…); "" signs nothing
	Connections int           // concurrent producers, one keep-alive connection each
	Duration    time.Duration // stop sending after this long; 0 = no time bound
	Requests    int           // stop after this many requests; 0 = no count bound
	Modules     []string      // modules to cycle through; empty = DefaultModules
	Timeout     time.Duration // bound on each request; 0 = none
	Seed        uint64        // seed of the data generators; 0 = random
}

func (c *LoadConfig) validate() error {
	switch {
	case c.URL == "":
		return errors.New("load: no URL")
	case c.Connections < 1:
		return fmt.Errorf("load: connections must be at least 1, not %d", c.Connections)
	case c.Duration < 0 || c.Requests < 0:
		return errors.New("load: duration and requests must not be negative")
	case c.Duration == 0 && c.Requests == 0:
		return errors.New("load: give a duration, a number of requests, or both")
	}
	return ValidateModules(c.Modules)
}

// ValidateModules rejects module names the bridge would refuse, so that a
// typo is a usage error rather than a run of 422s.
func ValidateModules(ms []string) error {
	for _, m := range ms {
		if !bridge.ValidModule(m) {
			return fmt.Errorf("invalid module name %q (want %s)", m, bridge.ModulePattern)
		}
	}
	return nil
}

// Load runs Connections producers, each sending POST /core/update in a
// closed loop (the next request as soon as the answer to the last one is
// in), until Duration has passed or Requests have been sent, whichever
// comes first. Every session_id is unique, so that the bridge stores every
// request rather than absorbing duplicates, and every request carries
// Corebridge-Load-Test: 1, so that the bridge learns no module rhythm
// (for silence detection) from a load test. It writes a summary to out and
// returns the figures. Cancelling ctx stops the run early: requests cut off
// are not counted and the result is marked Interrupted.
func Load(ctx context.Context, cfg LoadConfig, out io.Writer) (LoadResult, error) {
	if err := cfg.validate(); err != nil {
		return LoadResult{}, err
	}
	if len(cfg.Modules) == 0 {
		cfg.Modules = DefaultModules()
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	c := client.New(cfg.URL, client.WithMaxConns(cfg.Connections), client.WithToken(cfg.Token), client.WithSigningSecret(cfg.Secret), client.WithTimeout(cfg.Timeout))
	defer c.CloseIdleConnections()

	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	// The prefix keeps session_ids unique across runs against one bridge.
	prefix := "load-" + strconv.FormatInt(start.UnixMilli(), 36) + "-" + strconv.FormatUint(uint64(rand.Uint32()), 36) + "-"
	var issued atomic.Int64
	workers := make([]*worker, cfg.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			gen:          NewGenerator(cfg.Seed+uint64(i), nil),
			statusErrors: map[int]int64{},
		}
		if cfg.Requests > 0 {
			w.latencies = make([]time.Duration, 0, cfg.Requests/cfg.Connections+1)
		}
		workers[i] = w
		wg.Go(func() {
			w.run(ctx, c, &cfg, prefix, deadline, &issued)
		})
	}
	wg.Wait()

	res := LoadResult{
		URL:          cfg.URL,
		Connections:  cfg.Connections,
		Modules:      cfg.Modules,
		Duration:     time.Since(start),
		StatusErrors: map[int]int64{},
		Interrupted:  ctx.Err() != nil,
	}
	var all []time.Duration
	for _, w := range workers {
		res.OK += w.ok
		res.NetworkErrors += w.network
		res.Timeouts += w.timeouts
		res.BadResponses += w.bad
		for code, n := range w.statusErrors {
			res.StatusErrors[code] += n
		}
		all = append(all, w.latencies...)
	}
	for _, n := range res.StatusErrors {
		res.Requests += n
	}
	res.Requests += res.OK + res.NetworkErrors + res.Timeouts + res.BadResponses
	slices.Sort(all)
	res.Latency = latencyOf(all)
	res.WriteSummary(out)
	return res, nil
}

// worker is one producer of Load; it keeps its own figures so that the
// hot loop shares nothing with the others but the request counter.
type worker struct {
	gen          *Generator
	latencies    []time.Duration // of every request that got an answer
	ok           int64
	statusErrors map[int]int64
	network      int64
	timeouts     int64
	bad          int64
}

func (w *worker) run(ctx context.Context, c *client.Client, cfg *LoadConfig, prefix string, deadline time.Time, issued *atomic.Int64) {
	for ctx.Err() == nil {
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return
		}
		n := issued.Add(1)
		if cfg.Requests > 0 && n > int64(cfg.Requests) {
			return
		}
		module := cfg.Modules[int((n-1)%int64(len(cfg.Modules)))]
		req := client.UpdateRequest{
			Module:    module,
			Data:      w.gen.Data(module),
			SessionID: prefix + strconv.FormatInt(n, 10),
			LoadTest:  true, // the bridge learns no module rhythm from a load test
		}
		start := time.Now()
		_, err := c.Update(ctx, req)
		elapsed := time.Since(start)
		var ae *client.APIError
		switch {
		case err == nil:
			w.ok++
		case ctx.Err() != nil:
			return // cut off by cancellation: not the server's doing
		case errors.As(err, &ae):
			w.statusErrors[ae.StatusCode]++
		case errors.Is(err, client.ErrBadResponse):
			w.bad++
		case isTimeout(err):
			w.timeouts++
			continue
		default:
			w.network++
			continue
		}
		w.latencies = append(w.latencies, elapsed)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
