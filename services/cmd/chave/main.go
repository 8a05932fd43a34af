// Command chave runs the credential registry, the auth service and the
// REST gateway (all in one with `serve`, or each apart), and administers
// them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/chave/chave/services/internal/cli"
)

// long is `chave --help`'s introduction.
const long = `chave issues and manages API credentials: a token registry, an auth service
that signs access tokens, and a REST gateway over both.

The server commands run them (all in one with serve, or each apart); every
flag of theirs can also be set in the environment as CHAVE_<FLAG>
(--grpc-addr: CHAVE_GRPC_ADDR). The client commands talk to a running
server's REST API: --server or CHAVE_SERVER (default http://localhost:8080),
signed in as CHAVE_CLIENT_ID with CHAVE_CLIENT_SECRET (or chave login).
Exit codes: 0 done, 1 failed, 2 bad usage or input, 3 not found, 4 no or
insufficient credential.`

// defaultGCPercent trades memory for CPU: chave's live heap is small (tens
// of MB) and a grant allocates briefly, so collecting less often measurably
// raises throughput (about a fifth in `make bench`). GOGC overrides it.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr) // prints its error
	stop()
	os.Exit(cli.ExitCode(err))
}

// serverCommand is a server or administration command that parses its
// own flags (a flag.FlagSet whose defaults come from CHAVE_* variables).
type serverCommand struct {
	use, short, example string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// serverCommands are chave's server and administration commands.
var serverCommands = []serverCommand{
	{"serve [flags]", "the all-in-one server: registry, auth service and gateway in one process",
		"  chave serve --db sqlite://chave-data/chave.db --print-bootstrap-credential   # what make run runs\n" +
			"  CHAVE_REDIS=redis://localhost:6379 chave serve --db postgres://chave@localhost/chave", serve},
	{"registry --grpc-addr A --db URL [--redis URL]", "the token registry (gRPC)",
		"  chave registry --grpc-addr :9091 --metrics-addr :9101 --db sqlite://chave-data/chave.db", registryCommand},
	{"auth --grpc-addr A --registry ADDR [--redis URL]", "the auth service (gRPC): signs access tokens",
		"  chave auth --grpc-addr :9092 --metrics-addr :9102 --registry localhost:9091", authCommand},
	{"gateway --http-addr A --registry ADDR --auth ADDR", "the HTTP edge: JSON REST, OAuth 2.0, JWKS",
		"  chave gateway --http-addr :8080 --metrics-addr :9103 --registry localhost:9091 --auth localhost:9092", gatewayCommand},
	{"migrate --db URL", "apply the database migrations and exit",
		"  chave migrate --db sqlite://chave-data/chave.db", migrate},
	{"bootstrap --db URL", `create an operator credential; prints {"clientId","clientSecret"}`,
		"  chave bootstrap --db sqlite://chave-data/chave.db", bootstrap},
	{"keys rotate|list|retire|import|export|server|rewrap [flags]", "administer the signing keys (in the database, or a key file); version the server keys",
		"  chave keys list --db postgres://chave@db/chave\n  chave keys rotate --db postgres://chave@db/chave --pre-publish 10m\n" +
			"  chave keys rotate --db postgres://chave@db/chave --emergency --redis redis://redis:6379   # a leaked key\n" +
			"  chave keys server add --kind hmac\n  chave keys rewrap --db postgres://chave@localhost/chave", keysCommand},
}

// run runs chave with the process's environment and standard input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := &cli.Env{
		Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, LookupEnv: os.LookupEnv,
		StdinIsTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutIsTerminal: stdout == io.Writer(os.Stdout) && term.IsTerminal(int(os.Stdout.Fd())),
		Now:              time.Now, Location: time.Local,
		ReadPassword: func() (string, error) {
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			return string(b), err
		},
	}
	return cli.Execute(ctx, newRoot(env), args)
}

// newRoot is the whole `chave` command tree.
func newRoot(env *cli.Env) *cobra.Command {
	root := cli.NewRoot(env, long)
	root.AddGroup(&cobra.Group{ID: "server", Title: "Run and administer the servers:"})
	for _, sc := range serverCommands {
		cmd := cli.FlagSetCommand(env, sc.use, sc.short, sc.example, sc.run)
		cmd.GroupID = "server"
		root.AddCommand(cmd)
	}
	cli.AddCommands(root, env)
	return root
}

// flags binds a command's settings to flags whose defaults come from the
// environment (CHAVE_ + the flag name in upper snake case).
type flags struct {
	fs *flag.FlagSet
	// envErrs are the environment values that could not be parsed,
	// reported by parse.
	envErrs []error
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("chave "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs) }
	return &flags{fs: fs}
}

func envName(flagName string) string {
	return "CHAVE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) string(p *string, name, def, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.fs.StringVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) duration(p *time.Duration, name string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s: %w", envName(name), err))
		} else {
			def = d
		}
	}
	f.fs.DurationVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) bool(p *bool, name string, def bool, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s: want true or false, got %q", envName(name), v))
		} else {
			def = b
		}
	}
	f.fs.BoolVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) int64(p *int64, name string, def int64, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s: want an integer, got %q", envName(name), v))
		} else {
			def = n
		}
	}
	f.fs.Int64Var(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) float(p *float64, name string, def float64, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Errorf("%s: want a number, got %q", envName(name), v))
		} else {
			def = x
		}
	}
	f.fs.Float64Var(p, name, def, help+" (env "+envName(name)+")")
}

func (f *flags) logLevel(p *slog.Level) {
	def := "info"
	if v, ok := os.LookupEnv("CHAVE_LOG_LEVEL"); ok {
		def = v
	}
	if err := p.UnmarshalText([]byte(def)); err != nil {
		f.envErrs = append(f.envErrs, fmt.Errorf("CHAVE_LOG_LEVEL: want debug, info, warn or error, got %q", def))
	}
	f.fs.TextVar(p, "log-level", p, "debug, info, warn or error (env CHAVE_LOG_LEVEL)")
}

// printUsage prints a command's flags as the client commands' --help does.
func printUsage(fs *flag.FlagSet) {
	pf := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	pf.AddGoFlagSet(fs)
	// The defaults as defined, not the values parsed so far.
	pf.VisitAll(func(f *pflag.Flag) { f.DefValue = fs.Lookup(f.Name).DefValue })
	fmt.Fprintf(fs.Output(), "Usage:\n  %s [flags]\n\nFlags:\n%s", fs.Name(), pf.FlagUsages())
}

func (f *flags) parse(args []string) error {
	_, err := f.parseArgs(args, 0)
	return err
}

// parseArgs is parse for a command that takes n arguments after its flags,
// which it returns.
func (f *flags) parseArgs(args []string, n int) ([]string, error) {
	if err := f.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil, err
	} else if err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	if f.fs.NArg() > n {
		return nil, cli.Usagef("unexpected argument %q", f.fs.Arg(n))
	}
	if f.fs.NArg() < n {
		return nil, cli.Usagef("%d arguments missing", n-f.fs.NArg())
	}
	// A flag given on the command line wins over a bad environment value.
	var errs []error
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[envName(fl.Name)] = true })
	for _, err := range f.envErrs {
		name, _, _ := strings.Cut(err.Error(), ":")
		if !set[name] {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, &cli.UsageError{Err: errors.Join(errs...)}
	}
	return f.fs.Args(), nil
}
