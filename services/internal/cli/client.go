package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"

	"github.com/chave/chave/services/internal/chave"
)

// DefaultServer is where the CLI connects without --server, CHAVE_SERVER
// or a `chave login`: `make run`'s HTTP address.
const DefaultServer = "http://localhost:8080"

// connFlags are the flags every client command has.
type connFlags struct {
	server, clientID, secretFile string
	verbose                      bool
}

func (a *app) addConnFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.conn.server, "server", "", "chave's HTTP address (env CHAVE_SERVER; default: chave login's, else "+DefaultServer+")")
	fs.StringVar(&a.conn.clientID, "client-id", "", "client id of the credential the CLI signs in with (env CHAVE_CLIENT_ID)")
	fs.StringVar(&a.conn.secretFile, "client-secret-file", "", "file holding the client secret (else env CHAVE_CLIENT_SECRET; never a flag's value)")
	fs.BoolVarP(&a.conn.verbose, "verbose", "v", false, "log each HTTP request on stderr (never a secret or a token)")
}

// secret is a client secret or an access token: it never prints itself.
type secret string

func (secret) String() string                 { return "[redacted]" }
func (secret) GoString() string               { return "[redacted]" }
func (secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// credential is who the CLI signs in as.
type credential struct {
	clientID string
	secret   secret
}

// resolve finds the server and the credential: a flag, else the
// environment, else what `chave login` stored (only for the server it was
// stored for, so that a credential never goes to another server).
func (a *app) resolve() (server string, cred credential, err error) {
	stored, err := loadLogin(a.env)
	if err != nil {
		return "", credential{}, err
	}
	server = firstOf(a.conn.server, a.env.getenv("CHAVE_SERVER"), stored.Server, DefaultServer)
	server = strings.TrimRight(server, "/")
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", credential{}, Usagef("--server: want an http:// or https:// URL, got %q", server)
	}
	useStored := stored.Server != "" && strings.TrimRight(stored.Server, "/") == server
	cred.clientID = firstOf(a.conn.clientID, a.env.getenv("CHAVE_CLIENT_ID"))
	switch {
	case a.conn.secretFile != "":
		data, err := os.ReadFile(a.conn.secretFile)
		if err != nil {
			return "", credential{}, Usagef("--client-secret-file: %w", err)
		}
		cred.secret = secret(strings.TrimSpace(string(data)))
		if cred.secret == "" {
			return "", credential{}, Usagef("--client-secret-file: %s is empty", a.conn.secretFile)
		}
	case a.env.getenv("CHAVE_CLIENT_SECRET") != "":
		cred.secret = secret(a.env.getenv("CHAVE_CLIENT_SECRET"))
	case useStored && (cred.clientID == "" || cred.clientID == stored.ClientID):
		cred.clientID = stored.ClientID
		cred.secret, err = loadStoredSecret(a.env)
		if err != nil {
			return "", credential{}, err
		}
	}
	return server, cred, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// clientFor returns the REST client, built once per run.
func (a *app) clientFor(cmd *cobra.Command) (*Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	server, cred, err := a.resolve()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	if a.conn.verbose {
		log = slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a.client = newClient(server, cred, a.env, log, a.lang)
	return a.client, nil
}

// Client calls chave's REST API with an access token it gets by the
// client-credentials grant and keeps in memory for the run.
type Client struct {
	base string
	cred credential
	http *http.Client
	log  *slog.Logger
	now  func() time.Time
	lang lang

	mu      sync.Mutex
	token   secret
	expires time.Time
}

func newClient(server string, cred credential, env *Env, log *slog.Logger, l lang) *Client {
	rt := env.HTTP
	if rt == nil {
		rt = http.DefaultTransport
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: server, cred: cred, http: &http.Client{Transport: rt, Timeout: 30 * time.Second}, log: log, now: now, lang: l}
}

// tokenResponse is RFC 6749 §5.1's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Grant runs the client-credentials grant and returns the raw answer and
// the access token in it.
func (c *Client) Grant(ctx context.Context, scope string) ([]byte, tokenResponse, error) {
	if c.cred.clientID == "" || c.cred.secret == "" {
		return nil, tokenResponse{}, &chave.Error{Code: chave.Unauthenticated,
			Message: "no credential: set CHAVE_CLIENT_ID and CHAVE_CLIENT_SECRET (or --client-id and --client-secret-file), or run chave login"}
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, tokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.cred.clientID), url.QueryEscape(string(c.cred.secret)))
	body, err := c.send(req)
	if err != nil {
		return nil, tokenResponse{}, err
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, tokenResponse{}, fmt.Errorf("%s/oauth2/token: not a token response", c.base)
	}
	return body, tr, nil
}

// accessToken returns the cached access token, or a new one.
func (c *Client) accessToken(ctx context.Context) (secret, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	_, tr, err := c.Grant(ctx, "")
	if err != nil {
		return "", err
	}
	c.token = secret(tr.AccessToken)
	// Ten seconds early, so that a token never expires in flight.
	c.expires = c.now().Add(time.Duration(tr.ExpiresIn)*time.Second - 10*time.Second)
	return c.token, nil
}

// Do calls the REST API and returns the answer's body; an error answer
// becomes a *chave.Error with the server's message.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+string(tok))
	return c.send(req)
}

// Introspect asks the server about a token (RFC 7662), authenticating as
// the CLI's client.
func (c *Client) Introspect(ctx context.Context, token string) ([]byte, error) {
	if c.cred.clientID == "" || c.cred.secret == "" {
		_, _, err := c.Grant(ctx, "") // the same error as every other command
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth2/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.cred.clientID), url.QueryEscape(string(c.cred.secret)))
	return c.send(req)
}

func (c *Client) send(req *http.Request) ([]byte, error) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", c.lang.tag())
	req.Header.Set("User-Agent", "chave-cli")
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Debug("request failed", "method", req.Method, "path", req.URL.Path, "err", err)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message below; ue's would repeat it
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.log.Debug("request", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "duration", c.now().Sub(start))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp.StatusCode, body)
	}
	return body, nil
}

// apiError reads an error answer: grpc-gateway's status body ({"code",
// "message"}) or an OAuth one ({"error", "error_description"}).
func apiError(status int, body []byte) error {
	var st struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
		// RFC 6749 §5.2
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &st)
	code := statusCodes[status]
	if st.Code != nil {
		if c, ok := grpcCodes[codes.Code(*st.Code)]; ok {
			code = c
		}
	}
	if code == "" {
		code = chave.Internal
	}
	msg := st.Message
	if st.Error != "" {
		msg = st.Error
		if st.Description != "" {
			msg += ": " + st.Description
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("the server answered %d %s", status, http.StatusText(status))
	}
	return &chave.Error{Code: code, Message: msg}
}

var grpcCodes = map[codes.Code]chave.Code{
	codes.InvalidArgument:    chave.Invalid,
	codes.OutOfRange:         chave.Invalid,
	codes.NotFound:           chave.NotFound,
	codes.AlreadyExists:      chave.Conflict,
	codes.FailedPrecondition: chave.FailedPrecondition,
	codes.PermissionDenied:   chave.PermissionDenied,
	codes.Unauthenticated:    chave.Unauthenticated,
	codes.Unavailable:        chave.Unavailable,
}

var statusCodes = map[int]chave.Code{
	http.StatusBadRequest:          chave.Invalid,
	http.StatusUnauthorized:        chave.Unauthenticated,
	http.StatusForbidden:           chave.PermissionDenied,
	http.StatusNotFound:            chave.NotFound,
	http.StatusConflict:            chave.Conflict,
	http.StatusServiceUnavailable:  chave.Unavailable,
	http.StatusInternalServerError: chave.Internal,
}
