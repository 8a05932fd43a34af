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
)

const usage = `chave issues and manages API credentials.

Usage:
  chave serve [flags]                the all-in-one server (registry, auth, gateway)
  chave registry --grpc-addr A --db URL [--redis URL]
                                     the token registry (gRPC)
  chave auth --grpc-addr A --registry ADDR [--redis URL]
                                     the auth service (gRPC): signs access tokens
  chave gateway --http-addr A --registry ADDR --auth ADDR
                                     the HTTP edge: JSON REST, OAuth 2.0, JWKS
  chave migrate --db URL             apply the database migrations and exit
  chave bootstrap --db URL           create an operator credential; prints {"clientId","clientSecret"}
  chave keys rotate|list             rotate or list the signing keys

Every flag can also be set in the environment as CHAVE_<FLAG> (--grpc-addr:
CHAVE_GRPC_ADDR). Run "chave <command> --help" for a command's flags.
`

// defaultGCPercent trades memory for CPU: chave's live heap is small (tens
// of MB) and a grant allocates briefly, so collecting less often measurably
// raises throughput (about a fifth in `make bench`). GOGC overrides it.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chave:", err)
		os.Exit(1)
	}
}

// commands are chave's subcommands.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"serve":     serve,
	"registry":  registryCommand,
	"auth":      authCommand,
	"gateway":   gatewayCommand,
	"migrate":   migrate,
	"bootstrap": bootstrap,
	"keys":      keysCommand,
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(ctx, args[1:], stdout, stderr)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
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

func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
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
	return errors.Join(errs...)
}
