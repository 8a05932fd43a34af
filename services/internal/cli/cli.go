// Package cli is chave's operator CLI: the commands that manage tenants,
// tokens and contexts over the public REST API, print access tokens, and
// complete ids from the server. It holds no global state: everything it
// reads from the process (environment, standard streams, clock, terminal)
// comes through an Env.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chave/chave/services/internal/chave"
)

// Env is what the commands take from the process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads an environment variable (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// StdinIsTerminal and StdoutIsTerminal tell whether a person is there:
	// revoke and rotate ask before acting; tables get colour.
	StdinIsTerminal, StdoutIsTerminal bool
	// Now is the clock (time.Now).
	Now func() time.Time
	// Location interprets a bare --expires date (time.Local).
	Location *time.Location
	// ReadPassword reads a line from the terminal without echo (for chave
	// login's prompt).
	ReadPassword func() (string, error)
	// HTTP is the transport to the server (http.DefaultTransport if nil).
	HTTP http.RoundTripper
}

func (e *Env) getenv(name string) string {
	if e.LookupEnv == nil {
		return ""
	}
	v, _ := e.LookupEnv(name)
	return v
}

// app is the state of one CLI run: the Env, the connection flags, and the
// client built from them on first use.
type app struct {
	env    *Env
	conn   connFlags
	out    outputFlags
	client *Client
	lang   lang
}

// AddCommands adds the client commands to root, the `chave` command.
func AddCommands(root *cobra.Command, env *Env) {
	a := &app{env: env, lang: langFrom(env)}
	root.AddGroup(
		&cobra.Group{ID: groupRegistry, Title: "Manage tenants and tokens (over the REST API):"},
		&cobra.Group{ID: groupAccess, Title: "Access tokens and sign-in:"},
	)
	for _, c := range []*cobra.Command{a.tenantsCommand(), a.tokensCommand(), a.contextsCommand()} {
		c.GroupID = groupRegistry
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.tokenCommand(), a.introspectCommand(), a.loginCommand(), a.logoutCommand()} {
		c.GroupID = groupAccess
		root.AddCommand(c)
	}
}

const (
	groupRegistry = "registry"
	groupAccess   = "access"
)

// NewRoot returns the `chave` command without subcommands: its help, its
// usage errors (exit code 2) and the completion command.
func NewRoot(env *Env, long string) *cobra.Command {
	root := &cobra.Command{
		Use:           "chave",
		Short:         "chave issues and manages API credentials",
		Long:          long,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(env.Stderr)
			_ = cmd.Usage()
			return Usagef("no command")
		},
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	// Listing commands by their whole path makes the root's help a map of
	// what to type.
	root.SetUsageTemplate(strings.ReplaceAll(root.UsageTemplate(), "{{rpad .Name .NamePadding }}", "{{rpad .CommandPath .CommandPathPadding}}"))
	return root
}

// Execute runs the command line. It prints an error on stderr, with a
// pointer to the help for a usage error, and returns it for ExitCode.
func Execute(ctx context.Context, root *cobra.Command, args []string) error {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if errors.As(err, new(helpShown)) {
		return flag.ErrHelp
	}
	if err == nil || ExitCode(err) == ExitOK {
		return err
	}
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintln(root.ErrOrStderr(), "chave:", err)
	if errors.As(err, new(*UsageError)) {
		fmt.Fprintf(root.ErrOrStderr(), "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return err
}

// FlagSetCommand wraps a command that parses its own flags (a
// flag.FlagSet) into the tree: it gets every argument, --help included.
// Its help is the FlagSet's, then the examples.
func FlagSetCommand(env *Env, use, short, example string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:                use,
		Short:              short,
		Example:            example,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := run(ctxOf(cmd), args, env.Stdout, env.Stderr)
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(env.Stderr, "\nExamples:\n%s\n", example)
				return helpShown{} // flag.ErrHelp would make cobra print its own help too
			}
			return err
		},
	}
	// `chave help serve` shows what `chave serve --help` does, on stdout.
	cmd.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		_ = run(ctxOf(cmd), []string{"--help"}, env.Stdout, env.Stdout)
		fmt.Fprintf(env.Stdout, "\nExamples:\n%s\n", example)
	})
	return cmd
}

// helpShown is a wrapped command's answer to --help, which it printed.
type helpShown struct{}

func (helpShown) Error() string { return flag.ErrHelp.Error() }

// group returns a command that only holds subcommands: without one it
// prints its help; with an unknown one it is a usage error.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(c, args[0])
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &UsageError{Err: errors.New(msg)}
}

// UsageError is a command line that does not make sense: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Exit codes.
const (
	ExitOK               = 0
	ExitFailure          = 1
	ExitUsage            = 2
	ExitNotFound         = 3
	ExitPermissionDenied = 4
)

// ExitCode maps an error to the process's exit code, in one place: 2 for a
// bad command line or input the server refused, 3 for not found, 4 for a
// missing, wrong or insufficient credential, 1 for anything else.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, pflag.ErrHelp):
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	}
	var e *chave.Error
	if !errors.As(err, &e) {
		return ExitFailure
	}
	switch e.Code {
	case chave.Invalid:
		return ExitUsage
	case chave.NotFound:
		return ExitNotFound
	case chave.PermissionDenied, chave.Unauthenticated:
		return ExitPermissionDenied
	}
	return ExitFailure
}

// exactArgs wants exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return Usagef("missing %s (usage: %s)", strings.ToUpper(names[len(args)]), cmd.UseLine())
		case len(args) > len(names):
			return Usagef("unexpected argument %q (usage: %s)", args[len(names)], cmd.UseLine())
		}
		return nil
	}
}

// noArgs wants no positional argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unexpected argument %q (usage: %s)", args[0], cmd.UseLine())
	}
	return nil
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
