package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/signing"
)

const keysUsage = `chave keys administers the signing keys of access tokens, kept in the
database of --db (sealed under CHAVE_KEY_ENCRYPTION_KEY or the secrets file's
keyEncryptionKey), or in --signing-keys-file for servers that use one.

Usage:
  chave keys rotate [flags]       add a new signing key: published at once, signing after
                                  --pre-publish; the key it replaces stays published for
                                  --retention after that, then is pruned
  chave keys rotate --emergency   a new key signs at once and every other key is revoked:
                                  their tokens are refused everywhere (401 invalid_token)
  chave keys list [flags]         list the keys: kid, alg, created, activates, retired, state
  chave keys retire [flags] KID   stop publishing a signing key that no longer signs, before
                                  its retention ends
  chave keys import --file F      store the keys of a key file in the database
  chave keys export --file F      write the database's keys to a key file (mode 0600)
  chave keys server ...           add, activate, retire and list versions of the server keys
                                  (hmac, seal, refresh): chave keys server --help
  chave keys rewrap [flags]       re-seal every secret parameter under the active seal version

Running servers pick up a change within --signing-key-poll-interval (2 s),
or when they next read the key file.
Run "chave keys <subcommand> --help" for its flags.
`

// keysCommand runs "chave keys": rotate, list, retire, import and export
// (keys_signing.go for the database).
func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: no subcommand")
	}
	switch args[0] {
	case "rotate":
		return keysRotate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "retire":
		return keysRetire(ctx, args[1:], stdout, stderr)
	case "import":
		return keysImport(ctx, args[1:], stdout, stderr)
	case "export":
		return keysExport(ctx, args[1:], stdout, stderr)
	case "server":
		return keysServerCommand(ctx, args[1:], stdout, stderr)
	case "rewrap":
		return keysRewrap(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("keys: unknown subcommand %q", args[0])
}

// keyFileFlag binds the database flags and --signing-keys-file, and
// returns the function that tells, once the flags are parsed, whether the
// keys are in a file (its path) or in the database (empty).
func keyFileFlag(f *flags, cfg *app.Config) func() string {
	var file string
	signingDBFlags(f, cfg)
	f.string(&file, "signing-keys-file", "", "administer this key file instead of the database")
	return func() string { return file }
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("keys rotate", stderr)
	keyFile := keyFileFlag(f, &cfg)
	var alg string
	var prePublish, retention, wait time.Duration
	var emergency bool
	f.bool(&emergency, "emergency", false, "a new key signs at once and every other key is revoked: the tokens they signed are refused from now on (a leaked key)")
	f.string(&cfg.Redis, "redis", "", "with --emergency: the shared revocation set (redis://URL), written before the command returns so that every verifier refuses the old tokens at once")
	f.duration(&wait, "emergency-wait", 2*signing.DefaultPollInterval+time.Second, "with --emergency and no --redis: how long to wait for the servers to drop the revoked keys at their next poll")
	f.string(&alg, "signing-algorithm", "ES256", "algorithm of the new key: ES256, EdDSA, RS256 or HS512")
	f.duration(&prePublish, "pre-publish", signing.DefaultPrePublish,
		"how long the new key is published before it signs (more than the verifiers' JWKS cache time)")
	f.duration(&retention, "retention", signing.DefaultRetention,
		"how long a retired key stays published (at least the access-token lifetime plus the verifiers' leeway)")
	if err := f.parse(args); err != nil {
		return err
	}
	path := keyFile()
	if path == "" {
		return keysRotateDB(ctx, cfg, jwa.SignatureAlgorithm(alg), prePublish, retention, emergency, wait, stdout, stderr)
	}
	if emergency {
		return errNeedsDB
	}
	// For the hint below only; RotateFile reads the file again under its
	// lock.
	before, err := signing.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (chave serve and chave auth create the key file at their first start)", err)
	}
	if err != nil {
		return err
	}
	prev := before.ActiveAt(time.Now().Add(prePublish))

	key, err := signing.RotateFile(path, jwa.SignatureAlgorithm(alg), time.Now(), prePublish, retention)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s (%s): published now, signs from %s; key %s retires then\n",
		key.ID(), key.Algorithm(), key.Activates().Format(time.RFC3339), prev.ID())
	if key.Algorithm() != prev.Algorithm() {
		fmt.Fprintf(stderr, "note: the algorithm changed from %s to %s: set --signing-algorithm (CHAVE_SIGNING_ALGORITHM) of chave serve or chave auth to %s before its next start, and let verifiers accept both\n",
			prev.Algorithm(), key.Algorithm(), key.Algorithm())
	}
	if key.Algorithm() == jwa.HS512 {
		fmt.Fprintln(stderr, "note: HS512 keys are never published: verifiers that share the secret need the new key before it signs")
	}
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("keys list", stderr)
	keyFile := keyFileFlag(f, &cfg)
	if err := f.parse(args); err != nil {
		return err
	}
	path := keyFile()
	if path == "" {
		return keysListDB(ctx, cfg, stdout)
	}
	set, err := signing.Load(path)
	if err != nil {
		return err
	}
	now := time.Now()
	active := set.ActiveAt(now)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tACTIVATES\tRETIRED\tSTATE")
	for _, k := range set.All() {
		retired := "-"
		if !k.Retired().IsZero() {
			retired = k.Retired().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID(), k.Algorithm(),
			k.Created().Format(time.RFC3339), k.Activates().Format(time.RFC3339), retired, keyState(k, active, now))
	}
	return tw.Flush()
}

// keyState names where k stands at now.
func keyState(k, active *signing.Key, now time.Time) string {
	switch {
	case k.ID() == active.ID():
		return "signing"
	case !k.Retired().IsZero() && !now.Before(k.Retired()):
		return "retired" // published until pruned
	case !k.Retired().IsZero() && !k.Retired().After(k.Activates()):
		return "superseded" // a later rotation replaced it before it could sign
	case k.Activates().After(now):
		return "pending" // published, signs from its activation
	}
	return "published"
}
