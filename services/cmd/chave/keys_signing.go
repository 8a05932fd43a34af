package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/signing"
)

// The signing keys kept in the database: chave keys rotate, list, retire,
// import and export with --db (and no --signing-keys-file).

// signingDBFlags binds what opening the stored signing keys needs: the
// database, the secrets file that may hold the key-encryption key (which
// CHAVE_KEY_ENCRYPTION_KEY overrides, from the environment only).
func signingDBFlags(f *flags, cfg *app.Config) {
	dbFlag(f, &cfg.DB)
	f.string(&cfg.SecretsFile, "secrets-file", "", "secrets file whose keyEncryptionKey seals the signing keys, used when CHAVE_KEY_ENCRYPTION_KEY is unset (default: secrets.json beside the SQLite file)")
	cfg.KeyEncryptionKey = os.Getenv("CHAVE_KEY_ENCRYPTION_KEY")
}

// withSigningDB opens the stored signing keys of cfg, runs fn and closes
// the database.
func withSigningDB(ctx context.Context, cfg app.Config, fn func(*signing.DB) error) error {
	db, store, err := app.OpenSigningKeyDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(db)
}

// keysRotateDB rotates the keys in the database: scheduled (published now,
// signing after prePublish) or, with emergency, at once with every other
// key revoked.
func keysRotateDB(ctx context.Context, cfg app.Config, alg jwa.SignatureAlgorithm, prePublish, retention time.Duration, emergency bool, wait time.Duration, stdout, stderr io.Writer) error {
	return withSigningDB(ctx, cfg, func(db *signing.DB) error {
		now := time.Now()
		if !emergency {
			key, prev, err := db.Rotate(ctx, alg, now, prePublish, retention)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new signing key %s (%s): published now, signs from %s; key %s retires then\n",
				key.ID(), key.Algorithm(), key.Activates().Format(time.RFC3339), prev.ID())
			fmt.Fprintf(stdout, "every server using --db picks it up within its --signing-key-poll-interval (default %s)\n", signing.DefaultPollInterval)
			noteAlgorithm(stderr, prev.Algorithm(), key.Algorithm())
			return nil
		}
		key, revoked, err := db.EmergencyRotate(ctx, alg, now, retention)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s (%s): signs from now\n", key.ID(), key.Algorithm())
		for _, r := range revoked {
			fmt.Fprintf(stdout, "revoked signing key %s: every token it signed is refused (401 invalid_token); clients get a new token with their credential\n", r.ID)
		}
		if cfg.Redis != "" {
			if err := app.RevokeSigningKeys(ctx, cfg, revoked, retention); err != nil {
				return fmt.Errorf("the database revoked the keys, but %w; servers drop them within their poll interval", err)
			}
			fmt.Fprintln(stdout, "the revocation set refuses their tokens everywhere from now on")
		} else {
			fmt.Fprintf(stderr, "note: no --redis: waiting %s for the servers to drop the revoked keys at their next poll; verifiers outside chave that cache the JWKS accept the old tokens until they fetch it again\n", wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		noteAlgorithm(stderr, "", key.Algorithm())
		return nil
	})
}

func noteAlgorithm(stderr io.Writer, prev, next jwa.SignatureAlgorithm) {
	if prev != "" && next != prev {
		fmt.Fprintf(stderr, "note: the algorithm changed from %s to %s: set --signing-algorithm (CHAVE_SIGNING_ALGORITHM) of chave serve or chave auth to %s before its next start, and let verifiers accept both\n",
			prev, next, next)
	}
	if next == jwa.HS512 {
		fmt.Fprintln(stderr, "note: HS512 keys are never published: verifiers that share the secret need the new key before it signs")
	}
}

// keysListDB prints the stored keys, revoked ones included.
func keysListDB(ctx context.Context, cfg app.Config, stdout io.Writer) error {
	return withSigningDB(ctx, cfg, func(db *signing.DB) error {
		rows, err := db.Rows(ctx)
		if err != nil {
			return err
		}
		set, _, err := db.Load(ctx)
		if err != nil && len(rows) > 0 {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tALG\tCREATED\tACTIVATES\tRETIRED\tSTATE")
		for _, r := range rows {
			retired := "-"
			if !r.RetireTime.IsZero() {
				retired = r.RetireTime.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Algorithm, r.CreateTime.Format(time.RFC3339),
				r.ActivateTime.Format(time.RFC3339), retired, rowState(r, set, now))
		}
		return tw.Flush()
	})
}

func rowState(r chave.SigningKey, set *signing.KeySet, now time.Time) string {
	if !r.RevokeTime.IsZero() {
		return "revoked" // unpublished; its tokens are refused
	}
	for _, k := range set.All() {
		if k.ID() == r.ID {
			return keyState(k, set.ActiveAt(now), now)
		}
	}
	return "unknown"
}

func keysRetire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("keys retire", stderr)
	signingDBFlags(f, &cfg)
	rest, err := f.parseArgs(args, 1)
	if err != nil {
		return err
	}
	kid := rest[0]
	return withSigningDB(ctx, cfg, func(db *signing.DB) error {
		k, err := db.Retire(ctx, kid, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signing key %s is no longer published; the tokens it signed stop verifying as verifiers refresh their keys\n", k.ID())
		return nil
	})
}

func keysImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var file string
	f := newFlags("keys import", stderr)
	signingDBFlags(f, &cfg)
	f.string(&file, "file", "", "key file (a private JWK Set, as --signing-keys-file keeps) to import (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if file == "" {
		return chave.InvalidField("file", "--file is required")
	}
	set, err := signing.Load(file)
	if err != nil {
		return err
	}
	return withSigningDB(ctx, cfg, func(db *signing.DB) error {
		n, err := db.Import(ctx, set, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %d signing keys of %d (the others were already stored)\n", n, len(set.All()))
		return nil
	})
}

func keysExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var file string
	f := newFlags("keys export", stderr)
	signingDBFlags(f, &cfg)
	f.string(&file, "file", "", "key file to write, mode 0600; it must not exist (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if file == "" {
		return chave.InvalidField("file", "--file is required")
	}
	if _, err := os.Stat(file); err == nil {
		return chave.InvalidField("file", "%s exists: export never overwrites a key file", file)
	}
	return withSigningDB(ctx, cfg, func(db *signing.DB) error {
		data, err := db.Export(ctx)
		if err != nil {
			return err
		}
		if err := secrets.WriteFileAtomic(file, data, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the private signing keys to %s (mode 0600): keep it as safe as the key-encryption key\n", file)
		return nil
	})
}

var errNeedsDB = errors.New("--emergency needs the keys in the database: drop --signing-keys-file (import the file first: chave keys import)")
