package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// stored is what `chave login` keeps in the user's config dir; the secret
// sits beside it in a file only the user reads.
type stored struct {
	Server   string `json:"server"`
	ClientID string `json:"clientId"`
}

const (
	loginFile  = "login.json"
	secretFile = "client-secret"
)

// configDir is $XDG_CONFIG_HOME/chave, else $HOME/.config/chave.
func configDir(env *Env) (string, error) {
	if d := env.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "chave"), nil
	}
	if h := env.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "chave"), nil
	}
	return "", errors.New("no config dir: set HOME or XDG_CONFIG_HOME")
}

// loadLogin reads what `chave login` stored; nothing stored is no error.
func loadLogin(env *Env) (stored, error) {
	dir, err := configDir(env)
	if err != nil {
		return stored{}, nil //nolint:nilerr // no home: nothing stored
	}
	data, err := os.ReadFile(filepath.Join(dir, loginFile))
	if errors.Is(err, fs.ErrNotExist) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return stored{}, fmt.Errorf("%s: %w (chave logout removes it)", filepath.Join(dir, loginFile), err)
	}
	return s, nil
}

func loadStoredSecret(env *Env) (secret, error) {
	dir, err := configDir(env)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(dir, secretFile))
	if err != nil {
		return "", fmt.Errorf("the stored credential: %w (run chave login again)", err)
	}
	return secret(strings.TrimSpace(string(data))), nil
}

func (a *app) loginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "store the server and a credential for the next commands",
		Long: `Store the server and a credential in your config dir
($XDG_CONFIG_HOME/chave or ~/.config/chave), the secret in a file only you
can read, after checking them with the server. Later commands use them when
they talk to that server and no flag or environment variable says otherwise.
The secret comes from CHAVE_CLIENT_SECRET, --client-secret-file, or, on a
terminal, a prompt that does not echo; otherwise from the first line of
standard input.`,
		Example: `  chave login --server http://localhost:8080 --client-id chave_ci_…   # asks for the secret
  chave login --client-id "$CHAVE_CLIENT_ID" < secret.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server, cred, err := a.resolve()
			if err != nil {
				return err
			}
			if cred.clientID == "" {
				return Usagef("--client-id (or CHAVE_CLIENT_ID) is required")
			}
			if cred.secret == "" || (a.conn.secretFile == "" && a.env.getenv("CHAVE_CLIENT_SECRET") == "") {
				s, err := a.readSecret()
				if err != nil {
					return err
				}
				cred.secret = s
			}
			c := newClient(server, cred, a.env, slog.New(slog.DiscardHandler), a.lang)
			if _, _, err := c.Grant(ctxOf(cmd), ""); err != nil {
				return err
			}
			dir, err := configDir(a.env)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, secretFile), []byte(string(cred.secret)+"\n")); err != nil {
				return err
			}
			data, _ := json.MarshalIndent(stored{Server: server, ClientID: cred.clientID}, "", "  ")
			if err := writeFile(filepath.Join(dir, loginFile), append(data, '\n')); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stderr, a.lang.t("Conectado a %s como %s.\n", "Signed in to %s as %s.\n"), server, cred.clientID)
			return nil
		},
	}
	a.addConnFlags(cmd.Flags())
	return cmd
}

// readSecret prompts on a terminal without echo, else reads stdin's first
// line.
func (a *app) readSecret() (secret, error) {
	if a.env.StdinIsTerminal && a.env.ReadPassword != nil {
		fmt.Fprint(a.env.Stderr, a.lang.t("Segredo (clientSecret): ", "Secret (clientSecret): "))
		s, err := a.env.ReadPassword()
		fmt.Fprintln(a.env.Stderr)
		if err != nil {
			return "", err
		}
		return secret(strings.TrimSpace(s)), nil
	}
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if s := strings.TrimSpace(line); s != "" {
		return secret(s), nil
	}
	if err != nil {
		return "", Usagef("no client secret: set CHAVE_CLIENT_SECRET, give --client-secret-file, or pass it on standard input")
	}
	return "", Usagef("no client secret on standard input")
}

// writeFile replaces path with data, readable by the user only.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "logout",
		Short:   "remove what chave login stored",
		Example: "  chave logout",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			dir, err := configDir(a.env)
			if err != nil {
				return err
			}
			removed := false
			for _, f := range []string{secretFile, loginFile} {
				err := os.Remove(filepath.Join(dir, f))
				switch {
				case err == nil:
					removed = true
				case !errors.Is(err, fs.ErrNotExist):
					return err
				}
			}
			if removed {
				fmt.Fprintln(a.env.Stderr, a.lang.t("Credencial removida.", "Credential removed."))
			} else {
				fmt.Fprintln(a.env.Stderr, a.lang.t("Nenhuma credencial guardada.", "No stored credential."))
			}
			return nil
		},
	}
}
