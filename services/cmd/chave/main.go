// Command chave runs the credential registry, the auth service and the
// REST gateway (all in one with `serve`), and administers them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chave/chave/services/internal/app"
)

const usage = `chave issues and manages API credentials.

Usage:
  chave serve [flags]              the all-in-one server (registry, auth, gateway)
  chave bootstrap --db URL         create an operator credential; prints {"clientId","clientSecret"}
  chave keys rotate|list           rotate or list the signing keys

Run "chave <command> --help" for a command's flags.
`

func main() {
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "bootstrap":
		return bootstrap(ctx, args[1:], stdout, stderr)
	case "keys":
		return keysCommand(ctx, args[1:], stdout, stderr)
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

func (f *flags) duration(p *time.Duration, name string, def time.Duration, help string) error {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", envName(name), err)
		}
		def = d
	}
	f.fs.DurationVar(p, name, def, help+" (env "+envName(name)+")")
	return nil
}

func (f *flags) logLevel(p *slog.Level) {
	def := "info"
	if v, ok := os.LookupEnv("CHAVE_LOG_LEVEL"); ok {
		def = v
	}
	_ = p.UnmarshalText([]byte(def))
	f.fs.TextVar(p, "log-level", p, "debug, info, warn or error (env CHAVE_LOG_LEVEL)")
}

func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
	}
	return nil
}

func commonFlags(f *flags, cfg *app.Config) {
	f.string(&cfg.DB, "db", "sqlite://chave-data/chave.db", "database: sqlite://PATH")
	f.string(&cfg.CatalogFile, "catalog", "", "context catalog file (default: the shipped catalog)")
	f.string(&cfg.SecretsFile, "secrets-file", "", "file of the hashing and encryption keys (default: secrets.json beside the SQLite file)")
	cfg.HashKey = os.Getenv("CHAVE_HASH_KEY")
	cfg.EncryptionKey = os.Getenv("CHAVE_ENCRYPTION_KEY")
	cfg.RefreshTokenKey = os.Getenv("CHAVE_REFRESH_TOKEN_KEY")
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var level slog.Level
	f := newFlags("serve", stderr)
	f.string(&cfg.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	f.string(&cfg.GRPCAddr, "grpc-addr", ":9090", "gRPC listen address")
	commonFlags(f, &cfg)
	f.string(&cfg.Redis, "redis", "", "revocation set: redis://URL (empty: in-process)")
	f.string(&cfg.Issuer, "issuer", "", "iss of every token (default http:// + the HTTP address)")
	f.string(&cfg.Audience, "audience", "", "aud of every token (default: the issuer)")
	f.string(&cfg.SigningAlgorithm, "signing-algorithm", "ES256", "ES256, EdDSA, RS256 or HS512")
	f.string(&cfg.SigningKeysFile, "signing-keys-file", "", "private signing keys (default: signing-keys.json beside the SQLite file)")
	for _, d := range []struct {
		p    *time.Duration
		name string
		def  time.Duration
		help string
	}{
		{&cfg.AccessTokenLifetime, "access-token-lifetime", 30 * time.Minute, "access token lifetime"},
		{&cfg.RefreshTokenLifetime, "refresh-token-lifetime", 24 * time.Hour, "refresh token lifetime"},
		{&cfg.RefreshFamilyLifetime, "refresh-family-lifetime", 30 * 24 * time.Hour, "absolute lifetime of a chain of refresh tokens"},
		{&cfg.SigningKeyRotation, "signing-key-rotation", 0, "rotate the signing key when it has signed this long (0: only by `chave keys rotate`)"},
		{&cfg.SigningKeyPrePublish, "signing-key-pre-publish", 10 * time.Minute, "publish a new signing key this long before it signs"},
	} {
		if err := f.duration(d.p, d.name, d.def, d.help); err != nil {
			return err
		}
	}
	f.fs.BoolVar(&cfg.RedisRequireNoEviction, "redis-require-noeviction", os.Getenv("CHAVE_REDIS_REQUIRE_NOEVICTION") == "true", "refuse to start when Redis's maxmemory-policy is not noeviction (env CHAVE_REDIS_REQUIRE_NOEVICTION)")
	f.fs.BoolVar(&cfg.PrintBootstrapCredential, "print-bootstrap-credential", false, "on a database without an operator credential, create one and print it once")
	f.logLevel(&level)
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Stdout = stdout

	srv, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "chave listening: HTTP %s, gRPC %s, issuer %s\n", srv.HTTPAddr(), srv.GRPCAddr(), srv.Issuer())
	select {
	case <-ctx.Done():
	case err = <-srv.Err():
	}
	cfg.Logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv.Stop(shutdown)
	return err
}

func bootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("bootstrap", stderr)
	commonFlags(f, &cfg)
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	reg, err := app.NewRegistry(cfg, store)
	if err != nil {
		return err
	}
	id, secret, err := reg.Bootstrap(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"clientId": id, "clientSecret": secret.Reveal()})
}
