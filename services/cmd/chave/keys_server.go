package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/cli"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/secrets"
)

const keysServerUsage = `chave keys server administers the versions of the server keys in the
secrets file: hmac (hashes client secrets), seal (seals secret parameters)
and refresh (authenticates refresh tokens).

Usage:
  chave keys server list [--kind K] [--usage]       every version and its state
  chave keys server add --kind K                    a new version, inactive
  chave keys server activate --kind K --version N   new values are made under N
  chave keys server retire --kind K --version N     destroy version N's key; refused
                                                    while anything still needs it

Rotation: add, copy the file to every replica (servers re-read it within
seconds), activate, then let the old version drain (hmac: secrets re-hash on
their next use; seal: chave keys rewrap; refresh: wait out the refresh-token
lifetime) and retire it. docs/operations.md has the procedure.
Run "chave keys server <subcommand> --help" for its flags.
`

// keysServerCommand runs "chave keys server".
func keysServerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysServerUsage)
		return cli.Usagef("keys server: no subcommand")
	}
	switch args[0] {
	case "list":
		return keysServerList(ctx, args[1:], stdout, stderr)
	case "add":
		return keysServerAdd(ctx, args[1:], stdout, stderr)
	case "activate":
		return keysServerActivate(ctx, args[1:], stdout, stderr)
	case "retire":
		return keysServerRetire(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysServerUsage)
		return nil
	}
	fmt.Fprint(stderr, keysServerUsage)
	return cli.Usagef("keys server: unknown subcommand %q", args[0])
}

// serverKeyFlags binds the secrets file (or the database it sits beside),
// --kind and, when withVersion, --version.
type serverKeyFlags struct {
	cfg     app.RegistryConfig
	kind    string
	version int
}

func newServerKeyFlags(f *flags, withVersion bool) *serverKeyFlags {
	k := &serverKeyFlags{}
	dbFlag(f, &k.cfg.DB)
	f.string(&k.cfg.Keys.SecretsFile, "secrets-file", "", "the secrets file (default: secrets.json beside the SQLite file)")
	f.fs.StringVar(&k.kind, "kind", "", "the key: hmac, seal or refresh")
	if withVersion {
		f.fs.IntVar(&k.version, "version", 0, "the key version")
	}
	return k
}

func (k *serverKeyFlags) resolve(needVersion bool) (string, secrets.Kind, error) {
	kind, err := secrets.ParseKind(k.kind)
	if err != nil {
		return "", "", cli.Usagef("--kind: %v", err)
	}
	if needVersion && k.version < 1 {
		return "", "", cli.Usagef("--version is required (a positive number; chave keys server list shows them)")
	}
	path, err := app.SecretsFilePath(k.cfg.Keys, k.cfg.DB)
	if err != nil {
		return "", "", err
	}
	return path, kind, nil
}

func keysServerAdd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys server add", stderr)
	k := newServerKeyFlags(f, false)
	if err := f.parse(args); err != nil {
		return err
	}
	path, kind, err := k.resolve(false)
	if err != nil {
		return err
	}
	var v int
	_, err = secrets.UpdateKeyFile(path, func(keys *secrets.Keys) error {
		v, err = keys.Ring(kind).Add(time.Now())
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s key version %d (inactive)\n", kind, v)
	fmt.Fprintf(stderr, "next: give every replica this file, then chave keys server activate --kind %s --version %d\n", kind, v)
	return nil
}

func keysServerActivate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys server activate", stderr)
	k := newServerKeyFlags(f, true)
	if err := f.parse(args); err != nil {
		return err
	}
	path, kind, err := k.resolve(true)
	if err != nil {
		return err
	}
	var prev int
	_, err = secrets.UpdateKeyFile(path, func(keys *secrets.Keys) error {
		prev = keys.Ring(kind).Active
		return keys.Ring(kind).Activate(k.version, time.Now())
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s key version %d is active (was %d)\n", kind, k.version, prev)
	if prev != k.version {
		switch kind {
		case secrets.KindHMAC:
			fmt.Fprintf(stderr, "next: secrets re-hash under version %d on their next use; chave keys server list --kind hmac --usage shows what is left of version %d\n", k.version, prev)
		case secrets.KindSeal:
			fmt.Fprintf(stderr, "next: once every replica has read the file (seconds), chave keys rewrap, then chave keys server retire --kind seal --version %d\n", prev)
		case secrets.KindRefresh:
			fmt.Fprintf(stderr, "next: version %d keeps verifying refresh tokens; retire it once the refresh-token lifetime has passed\n", prev)
		}
	}
	return nil
}

func keysServerRetire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys server retire", stderr)
	k := newServerKeyFlags(f, true)
	var lifetime time.Duration
	var force bool
	f.duration(&lifetime, "refresh-token-lifetime", chave.MaxRefreshFamilyLifetime,
		"refresh: the longest refresh-token lifetime of the fleet (its --refresh-token-lifetime); the version retires once this long has passed since it stopped being active")
	f.fs.BoolVar(&force, "force", false, "retire even though something still uses the version (a leaked key): what it protects stops working")
	if err := f.parse(args); err != nil {
		return err
	}
	path, kind, err := k.resolve(true)
	if err != nil {
		return err
	}
	check := secrets.RetireCheck{RefreshTokenLifetime: lifetime + chave.MaxClockSkew, Now: time.Now()}
	if kind != secrets.KindRefresh {
		usage, err := serverKeyUsage(ctx, k.cfg, stderr)
		if err != nil {
			return err
		}
		check.InUse = usage[kind][k.version]
	}
	_, err = secrets.UpdateKeyFile(path, func(keys *secrets.Keys) error {
		err := keys.Ring(kind).CheckRetire(kind, k.version, check)
		var inUse *secrets.ErrInUse
		if errors.As(err, &inUse) && force {
			fmt.Fprintf(stderr, "warning: retiring anyway (--force): %v\n", err)
		} else if err != nil {
			return err
		}
		return keys.Ring(kind).Retire(k.version, check.Now)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s key version %d retired: its key is destroyed\n", kind, k.version)
	return nil
}

// serverKeyUsage counts, by kind and version, what the hmac and seal
// versions protect in the database of cfg.
func serverKeyUsage(ctx context.Context, cfg app.RegistryConfig, stderr io.Writer) (map[secrets.Kind]map[int]int, error) {
	cfg.Logger = newLogger(stderr, slog.LevelWarn)
	store, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	reg, err := app.NewRegistry(cfg, store)
	if err != nil {
		return nil, err
	}
	u, err := reg.KeyUsage(ctx)
	if err != nil {
		return nil, err
	}
	return map[secrets.Kind]map[int]int{secrets.KindHMAC: u.Credentials, secrets.KindSeal: u.Parameters}, nil
}

// serverKeyView is one version as list prints it.
type serverKeyView struct {
	Kind        secrets.Kind `json:"kind"`
	Version     int          `json:"version"`
	State       string       `json:"state"`
	Created     *time.Time   `json:"createTime,omitempty"`
	Activated   *time.Time   `json:"activateTime,omitempty"`
	Deactivated *time.Time   `json:"deactivateTime,omitempty"`
	Retired     *time.Time   `json:"retireTime,omitempty"`
	Uses        *int         `json:"uses,omitempty"`
}

func keysServerList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("keys server list", stderr)
	k := newServerKeyFlags(f, false)
	var usage, asJSON bool
	f.fs.BoolVar(&usage, "usage", false, "count what each hmac and seal version protects (reads every credential of --db)")
	f.fs.BoolVar(&asJSON, "json", false, "print JSON")
	if err := f.parse(args); err != nil {
		return err
	}
	kinds := secrets.Kinds
	if k.kind != "" {
		kind, err := secrets.ParseKind(k.kind)
		if err != nil {
			return cli.Usagef("--kind: %v", err)
		}
		kinds = []secrets.Kind{kind}
	}
	path, err := app.SecretsFilePath(k.cfg.Keys, k.cfg.DB)
	if err != nil {
		return err
	}
	keys, err := secrets.ReadKeyFile(path)
	if err != nil {
		return err
	}
	var uses map[secrets.Kind]map[int]int
	if usage {
		if uses, err = serverKeyUsage(ctx, k.cfg, stderr); err != nil {
			return err
		}
	}
	var views []serverKeyView
	for _, kind := range kinds {
		ring := keys.Ring(kind)
		for _, v := range ring.Versions {
			view := serverKeyView{Kind: kind, Version: v.Version, State: v.State(ring.Active),
				Created: timePtr(v.CreateTime), Activated: timePtr(v.ActivateTime), Deactivated: timePtr(v.DeactivateTime), Retired: timePtr(v.RetireTime)}
			if m, ok := uses[kind]; ok {
				n := m[v.Version]
				view.Uses = &n
			}
			views = append(views, view)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tVERSION\tSTATE\tCREATED\tACTIVATED\tDEACTIVATED\tRETIRED\tUSES")
	for _, v := range views {
		uses := "-"
		if v.Uses != nil {
			uses = strconv.Itoa(*v.Uses)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Kind, v.Version, v.State,
			showTime(v.Created), showTime(v.Activated), showTime(v.Deactivated), showTime(v.Retired), uses)
	}
	return tw.Flush()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func showTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keysRewrap runs "chave keys rewrap": re-seals every secret parameter
// under the active seal version, online.
func keysRewrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.RegistryConfig
	var batch int64
	f := newFlags("keys rewrap", stderr)
	dbFlag(f, &cfg.DB)
	catalogFlag(f, &cfg.CatalogFile)
	secretsFlags(f, &cfg.Keys.SecretsFile, &cfg.Keys.HashKey, &cfg.Keys.EncryptionKey, &cfg.Keys.RefreshTokenKey, "secrets.json beside the SQLite file")
	f.int64(&batch, "batch", 200, fmt.Sprintf("credentials read per batch (1 to %d)", registry.MaxPageSize))
	if err := f.parse(args); err != nil {
		return err
	}
	if batch < 1 || batch > registry.MaxPageSize {
		return cli.Usagef("--batch must be between 1 and %d", registry.MaxPageSize)
	}
	cfg.Logger = newLogger(stderr, slog.LevelWarn)
	store, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	reg, err := app.NewRegistry(cfg, store)
	if err != nil {
		return err
	}
	res, err := reg.RewrapParameters(ctx, int(batch), func(r registry.RewrapResult) {
		fmt.Fprintf(stderr, "scanned %d credentials, re-sealed %d (%d values)\n", r.Scanned, r.Rewrapped, r.Values)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "scanned %d credentials; re-sealed %d values of %d credentials; %d failed\n",
		res.Scanned, res.Values, res.Rewrapped, len(res.Failed))
	if len(res.Failed) > 0 {
		for _, id := range res.Failed {
			fmt.Fprintf(stderr, "  %s: a secret parameter would not open\n", id)
		}
		return fmt.Errorf("keys rewrap: %d credentials have parameters that would not open", len(res.Failed))
	}
	return nil
}
