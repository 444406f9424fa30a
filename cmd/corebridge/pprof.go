package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"strings"

	"corebridge/internal/auth"
)

// pprofMux serves Go's profiles, for --debug-addr only: never on the API's
// listener, so profiles are not exposed to producers.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// cmdline is pprof's /debug/pprof/cmdline with every URL's user
// information redacted (a --bucket-url may carry a password).
func cmdline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = redactArg(a)
	}
	w.Write([]byte(strings.Join(args, "\x00")))
}

// redactArg redacts the user information of a URL in a command-line
// argument, whole (http://u:p@h) or as a flag's value (--x=http://u:p@h).
func redactArg(a string) string { return auth.RedactURLsIn(a) }
