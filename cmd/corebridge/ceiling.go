package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"corebridge/internal/api"
)

// runCeiling serves the benchmark-only ceiling: same decoding and answers as
// serve, no storage. It is for measuring, never for producers.
func runCeiling(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("ceiling", "Benchmark-only: answer POST /core/update like serve does, storing nothing.", e)
	addr := fs.String("addr", "127.0.0.1:8001", "address to listen on")
	maxBody := byteSize(api.DefaultMaxBody)
	fs.Var(&maxBody, "max-body", "largest body, in bytes or with KiB/MiB")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(e.stderr, "ceiling server (stores nothing) listening on http://%s\n", ln.Addr())
	hs := &http.Server{Handler: api.NewCeiling(int64(maxBody)), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
