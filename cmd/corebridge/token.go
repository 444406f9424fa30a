package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"corebridge/internal/auth"
)

// runToken is `corebridge token new`: a fresh secret, printed once, and the
// line of the --auth-file that holds its hash.
func runToken(_ context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		w := e.stdout // asked for: stdout; a mistake: stderr
		if len(args) == 0 {
			w = e.stderr
		}
		fmt.Fprintln(w, "Usage: corebridge token new --name NAME --role ROLE [--module M]...\n\n"+
			"  new  print a fresh secret (once) and the line to add under tokens: in the --auth-file\n\n"+
			"Run 'corebridge token new --help' for its flags.")
		if len(args) == 0 {
			return usageError{"token: no subcommand given (new); see corebridge token --help"}
		}
		return nil
	}
	if sub := args[0]; sub != "new" {
		return usageError{fmt.Sprintf("token: unknown subcommand %q (new); see corebridge token --help", sub)}
	}
	fs := newFlagSet("token new", "Print a fresh secret, shown once, and the line to add under tokens: in the\n--auth-file, which holds only the secret's hash.", e)
	name := fs.String("name", "", "the token's name, as logs will show it (letters, digits, '.', '_', '-')")
	role := fs.String("role", "", "producer, viewer, operator or admin")
	var modules moduleList
	fs.Var(&modules, "module", "for a producer: a module it may send, or * for any; repeat or separate with commas")
	if err := parseFlags(fs, args[1:], e); err != nil {
		return err
	}

	secret, err := auth.NewSecret()
	if err != nil {
		return err
	}
	entry := auth.Entry{Name: *name, Role: auth.Role(*role), Modules: modules, Hash: auth.HashSecret(secret)}
	if err := entry.Validate(); err != nil {
		var fe *auth.FieldError
		if errors.As(err, &fe) {
			if f, ok := map[string]string{"name": "--name", "role": "--role", "modules": "--module"}[fe.Field]; ok {
				return usageError{fmt.Sprintf("token new: %s: %s", f, fe.Msg)}
			}
		}
		return fmt.Errorf("token new: %w", err)
	}
	line, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("token new: %w", err)
	}
	// The secret goes to stdout only, once: nothing keeps it, and stderr is
	// often a log.
	_, err = fmt.Fprintf(e.stdout, "Secret of token %q (shown once: store it now; only its hash is kept):\n\n"+
		"    %s\n\n"+
		"Add this line under tokens: in the --auth-file (it is reloaded when it changes, or on SIGHUP):\n\n"+
		"  - %s\n",
		entry.Name, secret, line)
	return err
}

// moduleList is the repeatable --module flag; each value may also be a
// comma-separated list (module names hold no commas), which is how
// COREBRIDGE_TOKEN_NEW_MODULE sets several.
type moduleList []string

func (m *moduleList) String() string { return strings.Join(*m, ",") }

func (m *moduleList) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*m = append(*m, part)
		}
	}
	return nil
}
