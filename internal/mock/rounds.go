package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"corebridge/client"
)

// DefaultInterval is the time between two rounds of the mock producer, as
// in the prototype.
const DefaultInterval = 30 * time.Second

// RoundsConfig configures the mock producer.
type RoundsConfig struct {
	URL      string        // base URL of the bridge, e.g. http://127.0.0.1:8000
	Token    string        // bearer token; "" sends none
	Secret   string        // signing secret (whsec_…); "" signs nothing
	Modules  []string      // modules that send; empty = DefaultModules
	Interval time.Duration // between the starts of two rounds; 0 = DefaultInterval
	Rounds   int           // rounds to run; 0 = until ctx is cancelled
	Timeout  time.Duration // bound on each request; 0 = none
	Seed     uint64        // seed of the data generator; 0 = random
	// Now is the clock stamped into the generated data; nil means time.Now.
	Now func() time.Time
}

// Rounds is the mock producer: it sends one update per module right away
// and then every Interval, and writes one line per update to out:
//
//	[education] status=success session_id=mock-… record_id=…
//	[finance] error: corebridge: POST /core/update: 503 Service Unavailable: queue full
//
// A failed update is reported and the producer goes on, as a Core module
// would. Rounds returns nil when ctx is cancelled; after a bounded number
// of rounds it returns an error if any update failed, so that a one-round
// smoke check fails visibly.
func Rounds(ctx context.Context, cfg RoundsConfig, out io.Writer) error {
	if cfg.URL == "" {
		return errors.New("mock: no URL")
	}
	if cfg.Rounds < 0 || cfg.Interval < 0 {
		return errors.New("mock: rounds and interval must not be negative")
	}
	if err := ValidateModules(cfg.Modules); err != nil {
		return err
	}
	if len(cfg.Modules) == 0 {
		cfg.Modules = DefaultModules()
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	p := &producer{
		c:      client.New(cfg.URL, client.WithMaxConns(1), client.WithToken(cfg.Token), client.WithSigningSecret(cfg.Secret), client.WithTimeout(cfg.Timeout)),
		gen:    NewGenerator(cfg.Seed, cfg.Now),
		out:    out,
		prefix: "mock-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-",
	}
	defer p.c.CloseIdleConnections()

	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	sent, failed := 0, 0
	for round := 1; ; round++ {
		for _, m := range cfg.Modules {
			if ctx.Err() != nil {
				return nil
			}
			sent++
			if !p.send(ctx, round, m) && ctx.Err() == nil {
				failed++
			}
		}
		if cfg.Rounds > 0 && round >= cfg.Rounds {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
	if failed > 0 {
		return fmt.Errorf("mock: %d of %d updates failed", failed, sent)
	}
	return nil
}

// producer sends the updates of Rounds.
type producer struct {
	c      *client.Client
	gen    *Generator
	out    io.Writer
	prefix string
}

// send sends module's update of round, reports it, and says whether it
// was acknowledged.
func (p *producer) send(ctx context.Context, round int, module string) bool {
	resp, err := p.c.Update(ctx, client.UpdateRequest{
		Module:    module,
		Data:      p.gen.Data(module),
		SessionID: p.prefix + strconv.Itoa(round) + "-" + module,
	})
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(p.out, "[%s] error: %v\n", module, err)
		}
		return false
	}
	dup := ""
	if resp.Duplicate {
		dup = " duplicate=true"
	}
	fmt.Fprintf(p.out, "[%s] status=%s session_id=%s record_id=%s%s\n", module, resp.Status, resp.SessionID, resp.RecordID, dup)
	return true
}
