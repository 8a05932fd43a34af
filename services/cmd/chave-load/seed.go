package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/chave/chave/services/internal/app"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// seedConfig configures `chave-load seed`.
type seedConfig struct {
	db          string // sqlite://PATH or postgres://URL
	secretsFile string // default: beside the SQLite database, as chave serve's
	tenant      string
	tokens      int
	batch       int    // tokens derived a batch (one transaction for all)
	seed        string // what the credentials' ids and secrets derive from
}

// seedBatch is how many credentials are derived and hashed a batch, each
// handed to the store while the next is derived. The store writes them all
// in one transaction (sqlstore's CreateTokensStream: all or nothing, the
// secondary indexes of SQLite built once after the rows).
const seedBatch = 50_000

// seedActor is the creator and the create event's actor of every seeded
// credential.
const seedActor = "chave-load-seed"

// seedResult is what `chave-load seed` prints (as JSON): the count, the
// rate, and one seeded credential a load can present.
type seedResult struct {
	Tokens          int     `json:"tokens"`
	Seconds         float64 `json:"seconds"`
	TokensPerSecond float64 `json:"tokensPerSecond"`
	// CPUMicrosPerToken is this process's CPU time (every core) per
	// credential: less moved than the rate by other work on the machine.
	CPUMicrosPerToken float64    `json:"cpuMicrosPerToken"`
	Credential        credential `json:"credential"`
}

// runSeed is `chave-load seed`: bench-only bulk seeding of a registry
// (never part of chave). It writes --tokens credentials of the existing
// tenant --tenant straight into the database through the SQL store's bulk
// insert (one transaction: an interrupted seed writes nothing), rows
// exactly like the registry's CreateToken writes (the secret
// hashed under the server key of the secrets file chave serve uses, the
// create event), so that the registry treats them as its own. The ids and
// secrets derive from --seed: credential i of a seed is
// seededCredential(seed, i).
func runSeed(args []string, out io.Writer) error {
	var c seedConfig
	fs := flag.NewFlagSet("chave-load seed", flag.ContinueOnError)
	fs.StringVar(&c.db, "db", "", "the database: sqlite://PATH or postgres://URL (stop chave serve first on SQLite, for the rate)")
	fs.StringVar(&c.secretsFile, "secrets-file", "", "the server keys' file (default: secrets.json beside the SQLite database, as chave serve's; CHAVE_HASH_KEY wins when set)")
	fs.StringVar(&c.tenant, "tenant", "", "the tenant the credentials belong to (it must exist)")
	fs.IntVar(&c.tokens, "tokens", 0, "how many credentials to write")
	fs.IntVar(&c.batch, "batch", seedBatch, "credentials derived and handed to the store a batch (one transaction writes them all)")
	fs.StringVar(&c.seed, "seed", "chave-load", "what the credentials' ids and secrets derive from (a second seed on one database must differ)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: chave-load seed --db sqlite://PATH --tenant T --tokens N [--seed S]")
		fmt.Fprintln(fs.Output(), "\nexample:\n  chave-load seed --db sqlite:///tmp/chave/chave.db --tenant bench --tokens 1000000")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := seedRegistry(context.Background(), c)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "chave-load seed: %d credentials in tenant %s in %.1fs (%.0f/s, %.1f µs of CPU each)\n",
		res.Tokens, c.tenant, res.Seconds, res.TokensPerSecond, res.CPUMicrosPerToken)
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// seedRegistry writes c.tokens credentials into c.db in one transaction,
// derived c.batch at a time, and returns the rate and the credential of index 0.
func seedRegistry(ctx context.Context, c seedConfig) (seedResult, error) {
	switch {
	case c.db == "":
		return seedResult{}, errors.New("--db is required")
	case c.tenant == "":
		return seedResult{}, errors.New("--tenant is required")
	case c.tokens <= 0:
		return seedResult{}, fmt.Errorf("--tokens %d: want at least 1", c.tokens)
	case c.batch <= 0:
		return seedResult{}, fmt.Errorf("--batch %d: want at least 1", c.batch)
	case c.seed == "":
		return seedResult{}, errors.New("--seed must not be empty")
	}
	hasher, err := seedHasher(c)
	if err != nil {
		return seedResult{}, err
	}
	store, err := app.OpenStore(ctx, c.db)
	if err != nil {
		return seedResult{}, err
	}
	defer store.Close()
	bulk, ok := store.(interface {
		CreateTokensStream(context.Context, func() ([]sqlstore.NewToken, error)) (int, error)
	})
	if !ok {
		return seedResult{}, fmt.Errorf("--db %s: the store has no bulk insert", c.db)
	}
	tenant, err := store.GetTenant(ctx, c.tenant)
	if chave.IsCode(err, chave.NotFound) {
		return seedResult{}, fmt.Errorf("--tenant %s: no such tenant (create it first: chave tenants create)", c.tenant)
	} else if err != nil {
		return seedResult{}, err
	}
	// Every credential is the same but for its id, secret and times; the
	// registry's own validation passes the template once.
	now := time.Now().UTC().Truncate(time.Microsecond)
	template := chave.Token{Tenant: tenant.ID, DisplayName: "seeded", Contexts: tenant.Contexts}
	if err := template.Validate(tenant, chave.DefaultCatalog(), now); err != nil {
		return seedResult{}, fmt.Errorf("--tenant %s: a seeded credential would not be valid: %w", c.tenant, err)
	}
	if err := checkPolicy(tenant, template, now); err != nil {
		return seedResult{}, err
	}

	// The credentials of the next batch are derived and hashed while the
	// store writes this one. Batches are garbage soon after they are
	// written: collect only when the heap nears 512 MiB.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(512 << 20))
	start, cpu0 := time.Now(), processCPU()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []sqlstore.NewToken, 1)
	derr := make(chan error, 1)
	go func() {
		defer close(batches)
		for i := 0; i < c.tokens; {
			batch := make([]sqlstore.NewToken, 0, min(c.batch, c.tokens-i))
			for ; i < c.tokens && len(batch) < c.batch; i++ {
				nt, err := seededToken(ctx, hasher, template, c.seed, i, c.tokens, now)
				if err != nil {
					derr <- err
					return
				}
				batch = append(batch, nt)
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				return
			}
		}
	}()
	// One transaction for the whole seed (all or nothing); on SQLite the
	// store builds the secondary indexes after the rows.
	if _, err := bulk.CreateTokensStream(ctx, func() ([]sqlstore.NewToken, error) {
		batch, ok := <-batches
		if !ok {
			select {
			case err := <-derr:
				return nil, err
			default:
				return nil, nil
			}
		}
		return batch, nil
	}); err != nil {
		return seedResult{}, fmt.Errorf("seed %d credentials: %w", c.tokens, err)
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	id, secret := seededCredential(c.seed, 0)
	return seedResult{Tokens: c.tokens, Seconds: elapsed.Seconds(), TokensPerSecond: float64(c.tokens) / elapsed.Seconds(),
		CPUMicrosPerToken: float64(cpu.Microseconds()) / float64(c.tokens),
		Credential:        credential{ID: id, Secret: secret.Reveal()}}, nil
}

// processCPU is this process's CPU time so far, user and system (0 if
// unknown).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// checkPolicy refuses a tenant whose policy would flag the seeded
// credentials (a required expiry), rather than seed violations.
func checkPolicy(tenant chave.Tenant, t chave.Token, now time.Time) error {
	if err := tenant.Policy.CheckExpiry(t.ExpireTime, now); err != nil {
		return fmt.Errorf("--tenant %s: its policy refuses a seeded credential: %w", tenant.ID, err)
	}
	return nil
}

// seedHasher hashes secrets as the registry of chave serve on c.db does:
// under CHAVE_HASH_KEY when set, else the active hmac key of the secrets
// file (created when missing, as serve does).
func seedHasher(c seedConfig) (*secrets.Hasher, error) {
	if env := os.Getenv("CHAVE_HASH_KEY"); env != "" {
		keys, err := secrets.ParseKeyList(secrets.KindHMAC, env)
		if err != nil {
			return nil, fmt.Errorf("CHAVE_HASH_KEY: %w", err)
		}
		return secrets.NewProviderHasher(secrets.NewStaticProvider(secrets.Keys{Hash: keys})), nil
	}
	path, err := app.SecretsFilePath(app.KeysConfig{SecretsFile: c.secretsFile}, c.db)
	if err != nil {
		return nil, err
	}
	p, err := secrets.NewFileProvider(path, 0)
	if err != nil {
		return nil, fmt.Errorf("--secrets-file %s: %w", path, err)
	}
	return secrets.NewProviderHasher(p), nil
}

// seededToken is credential i of n, as the registry's CreateToken would
// write it at its create time: one every 30 s (seedSpacing) before now, in the order of
// i, so that the newest are the last written (as in a real registry);
// every other one expires 350 days after it was created (a million: the
// expiries of half of them spread over the coming year, a few thousand in
// chave_credentials_expiring_soon's week).
func seededToken(ctx context.Context, hasher *secrets.Hasher, template chave.Token, seed string, i, n int, now time.Time) (sqlstore.NewToken, error) {
	id, secret := seededCredential(seed, i)
	h, err := hasher.Hash(ctx, secret)
	if err != nil {
		return sqlstore.NewToken{}, err
	}
	t := template
	t.ID = id
	t.DisplayName = fmt.Sprintf("seeded %d", i)
	t.SecretHash, t.SecretHashVersion = h.Sum, h.Version
	t.CreateTime = now.Add(-time.Duration(n-i) * seedSpacing(n))
	if i%2 == 1 {
		t.ExpireTime = t.CreateTime.Add(350 * 24 * time.Hour)
	}
	t.Creator = seedActor
	return sqlstore.NewToken{Token: t, Event: chave.Event{TokenID: id, Time: t.CreateTime, Actor: seedActor,
		Action: chave.ActionCreate, Fields: createdFields(t)}}, nil
}

// seedSpacing is the time between two seeded credentials' creation: 30 s,
// or less for more than 980,000 of them, so that none is older than 340
// days and none has expired.
func seedSpacing(n int) time.Duration {
	return min(30*time.Second, 340*24*time.Hour/time.Duration(max(n, 1)))
}

// createdFields are the fields a create event names for t: those the
// registry's tokenFieldsSet lists, for the fields a seeded credential has.
func createdFields(t chave.Token) []string {
	f := []string{"displayName", "tenant"}
	if len(t.Contexts) > 0 {
		f = append(f, "contexts")
	}
	if !t.ExpireTime.IsZero() {
		f = append(f, "expireTime")
	}
	return f
}

// seededCredential is the client id and secret of credential i of seed:
// well-formed (the prefixes, base62, the secret's checksum), and derived
// with HMAC-SHA-256 under a key of the seed, so that the bench can present
// any of them without having stored it.
//
// The ids of one seed ascend with i (a random 64-bit prefix of the seed,
// then i): each batch then appends to the primary key and to the events'
// index by token, where random ids would dirty a page of each per row and
// write the indexes out again with every commit (4 minutes and 18 GB
// written for a million, against seconds). A lookup by id reads as many
// pages either way.
func seededCredential(seed string, i int) (string, secrets.ClientSecret) {
	key := sha256.Sum256([]byte("chave-load seed\x00" + seed))
	derive := func(label string, i uint64) []byte {
		m := hmac.New(sha256.New, key[:])
		m.Write([]byte(label))
		m.Write(binary.BigEndian.AppendUint64(nil, i))
		return m.Sum(nil)
	}
	idBytes := binary.BigEndian.AppendUint64(derive("id", 0)[:8:8], uint64(i))
	id := secrets.ClientIDPrefix + base62(idBytes, 22)
	body := secrets.SecretPrefix + base62(derive("secret", uint64(i)), 43)
	sum := base62(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(body))), 6)
	secret, err := secrets.ParseClientSecret(body + sum)
	if err != nil {
		// The format of package secrets changed under this copy of it.
		panic(fmt.Sprintf("chave-load seed: a derived secret does not parse: %v", err))
	}
	return id, secret
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 writes b, a big-endian number, in base62 left-padded with zeros
// to width, as package secrets writes its ids and secrets.
func base62(b []byte, width int) string {
	v := new(big.Int).SetBytes(b)
	out := make([]byte, width)
	base, mod := big.NewInt(62), new(big.Int)
	for i := width - 1; i >= 0; i-- {
		v.DivMod(v, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}
