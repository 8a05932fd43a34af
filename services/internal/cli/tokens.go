package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// decode reads an API answer into its generated type, ignoring fields this
// CLI does not know yet (the JSON output still shows them).
func decode(raw []byte, m proto.Message) error {
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, m); err != nil {
		return fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return nil
}

// fetch checks the output mode, calls the REST API and decodes its answer
// into m; it returns the answer's JSON as well, which -o json prints.
func (a *app) fetch(cmd *cobra.Command, method, path string, q url.Values, body any, m proto.Message) ([]byte, error) {
	if _, _, err := a.out.mode(); err != nil {
		return nil, err
	}
	c, err := a.clientFor(cmd)
	if err != nil {
		return nil, err
	}
	raw, err := c.Do(ctxOf(cmd), method, path, q, body)
	if err != nil {
		return nil, err
	}
	return raw, decode(raw, m)
}

func (a *app) tokensCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "tokens",
		Short: "create, list, change, revoke and rotate API credentials (tokens)",
		Long: `Manage API credentials (tokens): each belongs to a tenant (company), reaches
either every context its tenant is entitled to (--general-access) or the
contexts listed (--context), and may expire. The secret is shown once, when
the token is created or rotated. Revoked and expired tokens stay listable.`,
		Example: `  chave tokens create --name "Equipe financeiro" --tenant acme --context inventory
  chave tokens list --tenant acme
  chave tokens list --all -o name`,
	})
	a.addConnFlags(cmd.PersistentFlags())
	a.addOutputFlag(cmd.PersistentFlags())
	cmd.AddCommand(a.tokensCreate(), a.tokensList(), a.tokensGet(), a.tokensUpdate(),
		a.tokensRevoke(), a.tokensRotate(), a.tokensEvents(), a.tokensUsage())
	return cmd
}

// tokenFields are the flags that name a token's fields.
type tokenFields struct {
	name, description, tenant string
	expires                   string
	expiresIn                 string
	noExpiry                  bool
	generalAccess             bool
	contexts                  []string
	params                    []string
	paramFile                 string
	refreshTokens             bool
}

func (f *tokenFields) bind(fs *pflag.FlagSet, create bool) {
	fs.StringVar(&f.name, "name", "", "display name: the user, team or company the access is for")
	fs.StringVar(&f.description, "description", "", "free text, e.g. \"Token para consulta da equipe do financeiro\"")
	if create {
		fs.StringVar(&f.tenant, "tenant", "", "the tenant (company) the token belongs to")
	}
	fs.StringVar(&f.expires, "expires", "", "expiry: a date (2027-01-31: the token works through that day, local time) or an RFC 3339 time")
	fs.StringVar(&f.expiresIn, "expires-in", "", "expiry from now: 90d, 12h, 30m")
	if !create {
		fs.BoolVar(&f.noExpiry, "no-expiry", false, "remove the expiry: the token never expires")
	}
	fs.BoolVar(&f.generalAccess, "general-access", false, "every context the tenant is entitled to, including ones added later")
	fs.StringArrayVar(&f.contexts, "context", nil, "a context the token reaches (repeat for more); see chave contexts list")
	fs.StringArrayVar(&f.params, "param", nil, "a context parameter, CONTEXT.NAME=VALUE (repeat for more), e.g. foccohub.marketplace=mercado-livre")
	fs.StringVar(&f.paramFile, "param-file", "", `context parameters from a JSON file, e.g. {"telegram": {"botToken": "…"}}; keeps secrets out of shell history`)
	fs.BoolVar(&f.refreshTokens, "refresh-tokens", true, "client-credentials grants also return a refresh token")
}

// body builds the JSON body from the flags that were set.
func (f *tokenFields) body(a *app, fs *pflag.FlagSet) (map[string]any, error) {
	b := map[string]any{}
	if fs.Changed("name") {
		b["displayName"] = f.name
	}
	if fs.Changed("description") {
		b["description"] = f.description
	}
	if fs.Changed("tenant") {
		b["tenant"] = f.tenant
	}
	set := 0
	for _, n := range []string{"expires", "expires-in", "no-expiry"} {
		if fs.Changed(n) {
			set++
		}
	}
	if set > 1 {
		return nil, Usagef("--expires, --expires-in and --no-expiry exclude each other")
	}
	switch {
	case fs.Changed("expires"):
		t, err := parseExpires(f.expires, a.location())
		if err != nil {
			return nil, Usagef("--expires: %v", err)
		}
		b["expireTime"] = t.UTC().Format(time.RFC3339)
	case fs.Changed("expires-in"):
		d, err := parseDays(f.expiresIn)
		if err != nil || d <= 0 {
			return nil, Usagef("--expires-in: want a positive duration such as 90d, 12h or 30m, got %q", f.expiresIn)
		}
		b["expireTime"] = a.now().Add(d).UTC().Format(time.RFC3339)
	case f.noExpiry:
		b["expireTime"] = nil
	}
	if fs.Changed("general-access") && fs.Changed("context") && f.generalAccess {
		return nil, Usagef("--general-access and --context exclude each other: general access already reaches every context")
	}
	switch {
	case fs.Changed("context"):
		b["contexts"] = f.contexts
		b["generalAccess"] = false
	case fs.Changed("general-access"):
		b["generalAccess"] = f.generalAccess
		if f.generalAccess {
			b["contexts"] = []string{}
		}
	}
	params, err := f.parameters()
	if err != nil {
		return nil, err
	}
	if params != nil {
		b["parameters"] = params
	}
	if fs.Changed("refresh-tokens") {
		b["issueRefreshTokens"] = f.refreshTokens
	}
	return b, nil
}

// parameters merges --param-file and --param (which wins).
func (f *tokenFields) parameters() (map[string]map[string]any, error) {
	if f.paramFile == "" && len(f.params) == 0 {
		return nil, nil
	}
	params := map[string]map[string]any{}
	if f.paramFile != "" {
		data, err := os.ReadFile(f.paramFile)
		if err != nil {
			return nil, Usagef("--param-file: %v", err)
		}
		if err := json.Unmarshal(data, &params); err != nil {
			return nil, Usagef(`--param-file: want a JSON object keyed by context id, e.g. {"telegram": {"botToken": "…"}}: %v`, err)
		}
	}
	for _, p := range f.params {
		key, value, ok := strings.Cut(p, "=")
		ctx, name, dot := strings.Cut(key, ".")
		if !ok || !dot || ctx == "" || name == "" {
			return nil, Usagef("--param: want CONTEXT.NAME=VALUE, e.g. telegram.botToken=…, got %q", redactParam(p))
		}
		if params[ctx] == nil {
			params[ctx] = map[string]any{}
		}
		params[ctx][name] = value
	}
	return params, nil
}

// redactParam keeps a parameter's value (maybe a bot token) out of an
// error message.
func redactParam(p string) string {
	if k, _, ok := strings.Cut(p, "="); ok {
		return k + "=…"
	}
	return p
}

// parseExpires reads --expires: a date is the end of that day in loc (the
// token works through the whole day), anything else RFC 3339.
func parseExpires(s string, loc *time.Location) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date (2027-01-31) or an RFC 3339 time (2027-01-31T18:00:00-03:00), got %q", s)
	}
	return t, nil
}

// parseDays reads a Go duration that may start with whole days: 90d, 1d12h.
func parseDays(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	return days + d, err
}

func (a *app) location() *time.Location {
	if a.env.Location != nil {
		return a.env.Location
	}
	return time.Local
}

func (a *app) now() time.Time {
	if a.env.Now != nil {
		return a.env.Now()
	}
	return time.Now()
}

func (a *app) tokensCreate() *cobra.Command {
	var f tokenFields
	cmd := &cobra.Command{
		Use:   "create --name NAME --tenant TENANT (--general-access | --context ID...)",
		Short: "create a token; prints its client id and secret, shown only this once",
		Example: `  chave tokens create --name "Equipe financeiro" --tenant acme --context inventory
  chave tokens create --name "Bot de vendas" --tenant acme --context telegram \
    --param telegram.botToken=123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw --expires-in 90d
  chave tokens create --name Integração --tenant acme --general-access --expires 2027-12-31 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			for _, req := range []string{"name", "tenant"} {
				if !cmd.Flags().Changed(req) {
					return Usagef("--%s is required", req)
				}
			}
			if !cmd.Flags().Changed("context") && !f.generalAccess {
				return Usagef("give --general-access or at least one --context")
			}
			body, err := f.body(a, cmd.Flags())
			if err != nil {
				return err
			}
			return a.printSecret(cmd, "POST", "/v1/tokens", body)
		},
	}
	f.bind(cmd.Flags(), true)
	a.completeFlags(cmd)
	return cmd
}

// printSecret runs a create or a rotate and prints its answer: the secret
// goes to stdout once, with a warning on stderr.
func (a *app) printSecret(cmd *cobra.Command, method, path string, body any) error {
	var resp registryv1.CreateTokenResponse // RotateTokenResponse has the same shape
	raw, err := a.fetch(cmd, method, path, nil, body, &resp)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.env.Stderr, a.lang.t(
		"Atenção: guarde o segredo (clientSecret) agora: ele não será mostrado de novo.",
		"Warning: store the secret (clientSecret) now: it will not be shown again."))
	return a.print(result{raw: raw, names: []string{resp.GetClientId()}, table: func(w io.Writer, s *style) error {
		kv := []string{"clientId", resp.GetClientId(), "clientSecret", resp.GetClientSecret(),
			s.lang.t("nome", "name"), resp.GetToken().GetDisplayName(),
			s.lang.t("empresa", "tenant"), resp.GetToken().GetTenant(),
			s.lang.t("acesso", "access"), access(resp.GetToken(), s),
			s.lang.t("expira", "expires"), expiry(resp.GetToken(), s)}
		if p := resp.GetToken().GetPreviousSecretExpireTime(); p != nil {
			kv = append(kv, s.lang.t("segredo anterior vale até", "previous secret until"), when(p.AsTime(), true, s))
		}
		return fields(w, kv...)
	}})
}

func (a *app) tokensList() *cobra.Command {
	var tenant, state, pageToken, unusedSince, expiringBefore string
	var pageSize int32
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list tokens, newest first",
		Example: `  chave tokens list
  chave tokens list --tenant acme --state active
  chave tokens list --all -o name
  chave tokens list --unused-since 90d --state active
  chave tokens list --expiring-before 7d
  chave tokens list --page-size 10 -o jsonpath='{.nextPageToken}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			q := url.Values{}
			if tenant != "" {
				q.Set("tenant", tenant)
			}
			if state != "" {
				st, err := parseState(state)
				if err != nil {
					return err
				}
				q.Set("state", st)
			}
			if err := a.listFilters(q, unusedSince, expiringBefore); err != nil {
				return err
			}
			if pageSize < 0 {
				return Usagef("--page-size: want a positive number, got %d", pageSize)
			}
			if pageSize > 0 {
				q.Set("pageSize", strconv.Itoa(int(pageSize)))
			}
			if all && pageToken != "" {
				return Usagef("--all and --page-token exclude each other")
			}
			c, err := a.clientFor(cmd)
			if err != nil {
				return err
			}
			raw, tokens, next, err := listPages(cmd, c, "/v1/tokens", q, pageToken, all, "tokens",
				func(raw []byte) ([]*registryv1.Token, string, error) {
					var resp registryv1.ListTokensResponse
					err := decode(raw, &resp)
					return resp.GetTokens(), resp.GetNextPageToken(), err
				})
			if err != nil {
				return err
			}
			names := make([]string, len(tokens))
			for i, t := range tokens {
				names[i] = t.GetId()
			}
			return a.print(result{raw: raw, names: names, table: func(w io.Writer, s *style) error {
				t := newTable(w, s, "ID", s.lang.t("NOME", "NAME"), s.lang.t("EMPRESA", "TENANT"), s.lang.t("ESTADO", "STATE"),
					s.lang.t("ACESSO", "ACCESS"), s.lang.t("EXPIRA", "EXPIRES"), s.lang.t("ÚLTIMO USO", "LAST USED"))
				for _, tok := range tokens {
					t.row(tok.GetState() != registryv1.TokenState_TOKEN_STATE_ACTIVE, tok.GetId(), tok.GetDisplayName(), tok.GetTenant(),
						stateName(tok.GetState(), s), access(tok, s), expiry(tok, s), lastUse(tok, s))
				}
				if err := t.flush(); err != nil {
					return err
				}
				if next != "" {
					fmt.Fprintf(a.env.Stderr, a.lang.t("Há mais: --page-token %s, ou --all para todos.\n", "More: --page-token %s, or --all for every one.\n"), next)
				}
				return nil
			}})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "only this tenant's tokens")
	fs.StringVar(&state, "state", "", "only tokens in this state: active, revoked or expired")
	fs.Int32Var(&pageSize, "page-size", 0, "at most this many tokens per page (server default 50, at most 500)")
	fs.StringVar(&pageToken, "page-token", "", "the page after a previous list's nextPageToken")
	fs.BoolVar(&all, "all", false, "page through every token")
	fs.StringVar(&unusedSince, "unused-since", "", "only tokens not used since then: a date, an RFC 3339 time, or 90d (ago)")
	fs.StringVar(&expiringBefore, "expiring-before", "", "only tokens expiring before then: a date, an RFC 3339 time, or 7d (ahead)")
	a.completeFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"active", "revoked", "expired"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// listPages reads one page, or with all every page; the raw answer of
// several pages is one object holding all the items under key.
func listPages[T any](cmd *cobra.Command, c *Client, path string, q url.Values, pageToken string, all bool, key string,
	decodePage func([]byte) ([]T, string, error)) ([]byte, []T, string, error) {
	var items []T
	var rawItems []json.RawMessage
	for {
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		raw, err := c.Do(ctxOf(cmd), "GET", path, q, nil)
		if err != nil {
			return nil, nil, "", err
		}
		page, next, err := decodePage(raw)
		if err != nil {
			return nil, nil, "", err
		}
		items = append(items, page...)
		if !all {
			return raw, items, next, nil
		}
		var generic map[string]json.RawMessage
		if err := json.Unmarshal(raw, &generic); err != nil {
			return nil, nil, "", fmt.Errorf("unexpected answer from the server: %w", err)
		}
		var these []json.RawMessage
		if len(generic[key]) > 0 {
			if err := json.Unmarshal(generic[key], &these); err != nil {
				return nil, nil, "", fmt.Errorf("unexpected answer from the server: %w", err)
			}
		}
		rawItems = append(rawItems, these...)
		if next == "" || next == pageToken {
			break
		}
		pageToken = next
	}
	if rawItems == nil {
		rawItems = []json.RawMessage{}
	}
	raw, err := json.Marshal(map[string]any{key: rawItems})
	return raw, items, "", err
}

func parseState(s string) (string, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToUpper(s), "TOKEN_STATE_")) {
	case "active":
		return "TOKEN_STATE_ACTIVE", nil
	case "revoked":
		return "TOKEN_STATE_REVOKED", nil
	case "expired":
		return "TOKEN_STATE_EXPIRED", nil
	}
	return "", Usagef("--state: want active, revoked or expired, got %q", s)
}

func (a *app) tokensGet() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "get ID",
		Short:             "show a token: every field but the secret; secret parameters masked",
		Example:           `  chave tokens get "$(chave tokens list -o name | head -1)"`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.showToken(cmd, "GET", "/v1/tokens/"+url.PathEscape(args[0]), nil)
		},
	}
	return cmd
}

// showToken calls an endpoint that answers one bare token and prints it.
func (a *app) showToken(cmd *cobra.Command, method, path string, body any) error {
	var tok registryv1.Token
	raw, err := a.fetch(cmd, method, path, nil, body, &tok)
	if err != nil {
		return err
	}
	return a.print(result{raw: raw, names: []string{tok.GetId()}, table: func(w io.Writer, s *style) error {
		return tokenFieldsTable(w, &tok, s)
	}})
}

func tokenFieldsTable(w io.Writer, t *registryv1.Token, s *style) error {
	l := s.lang
	return fields(w,
		"id", t.GetId(),
		l.t("nome", "name"), t.GetDisplayName(),
		l.t("descrição", "description"), orDash(t.GetDescription()),
		l.t("empresa", "tenant"), t.GetTenant(),
		l.t("estado", "state"), stateName(t.GetState(), s),
		l.t("acesso", "access"), access(t, s),
		l.t("parâmetros", "parameters"), parameters(t),
		l.t("expira", "expires"), expiry(t, s),
		l.t("criado", "created"), when(t.GetCreateTime().AsTime(), t.GetCreateTime() != nil, s),
		l.t("criado por", "created by"), t.GetCreator(),
		l.t("último uso", "last used"), lastUse(t, s),
		l.t("política", "policy"), policyViolations(t, s),
		l.t("revogado", "revoked"), revoked(t, s),
		"refresh tokens", l.t(yesNo(t.GetIssueRefreshTokens()), yesNoEN(t.GetIssueRefreshTokens())),
	)
}

func yesNo(b bool) string {
	if b {
		return "sim"
	}
	return "não"
}

func yesNoEN(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func stateName(st registryv1.TokenState, s *style) string {
	switch st {
	case registryv1.TokenState_TOKEN_STATE_ACTIVE:
		return s.lang.t("ativo", "active")
	case registryv1.TokenState_TOKEN_STATE_REVOKED:
		return s.lang.t("revogado", "revoked")
	case registryv1.TokenState_TOKEN_STATE_EXPIRED:
		return s.lang.t("expirado", "expired")
	}
	return strings.ToLower(strings.TrimPrefix(st.String(), "TOKEN_STATE_"))
}

func access(t *registryv1.Token, s *style) string {
	if t.GetGeneralAccess() {
		return s.lang.t("geral", "general")
	}
	return strings.Join(t.GetContexts(), ",")
}

func expiry(t *registryv1.Token, s *style) string {
	if t.GetExpireTime() == nil {
		return s.lang.t("nunca", "never")
	}
	return s.ago(t.GetExpireTime().AsTime())
}

func lastUse(t *registryv1.Token, s *style) string {
	if t.GetLastUseTime() == nil {
		return s.lang.t("nunca", "never")
	}
	return s.ago(t.GetLastUseTime().AsTime())
}

func revoked(t *registryv1.Token, s *style) string {
	if t.GetRevokeTime() == nil {
		return "-"
	}
	return s.ago(t.GetRevokeTime().AsTime()) + " (" + t.GetRevoker() + ")"
}

// when prints an absolute time with its humanised distance.
func when(t time.Time, set bool, s *style) string {
	if !set {
		return "-"
	}
	loc := s.loc
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format("2006-01-02 15:04") + " (" + s.ago(t) + ")"
}

func parameters(t *registryv1.Token) string {
	var parts []string
	for _, ctx := range sortedKeys(t.GetParameters()) {
		for name, v := range t.GetParameters()[ctx].AsMap() {
			parts = append(parts, fmt.Sprintf("%s.%s=%v", ctx, name, v))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func (a *app) tokensUpdate() *cobra.Command {
	var f tokenFields
	cmd := &cobra.Command{
		Use:   "update ID [--name NAME] [--description TEXT] [--expires DATE | --expires-in 90d | --no-expiry] [--general-access | --context ID...]",
		Short: "change a token's name, description, access, parameters or expiry",
		Example: `  ID=$(chave tokens list --tenant acme -o name | head -1)
  chave tokens update "$ID" --description "Consulta de estoque" --expires-in 30d
  chave tokens update "$ID" --context inventory   # custom access: inventory only`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := f.body(a, cmd.Flags())
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return Usagef("nothing to change: give at least one of --name, --description, --expires, --expires-in, --no-expiry, --general-access, --context, --param, --param-file, --refresh-tokens")
			}
			return a.showToken(cmd, "PATCH", "/v1/tokens/"+url.PathEscape(args[0]), body)
		},
	}
	f.bind(cmd.Flags(), false)
	a.completeFlags(cmd)
	return cmd
}

func (a *app) tokensRevoke() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "revoke a token: its secret and every access and refresh token issued from it stop working at once",
		Long: `Revoke a token. Its secret stops working, and so does every access and
refresh token issued from it, before the command returns. The token stays
listable as history. Revoking twice is harmless. On a terminal it asks
first; elsewhere it needs --yes.`,
		Example:           `  chave tokens revoke "$(chave tokens list --tenant acme -o name | head -1)" --yes`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			if err := a.confirm(yes, a.lang.t("Revogar o token %s? Isso não pode ser desfeito.", "Revoke token %s? This cannot be undone."), args[0]); err != nil {
				return err
			}
			return a.showToken(cmd, "POST", "/v1/tokens/"+url.PathEscape(args[0])+":revoke", map[string]any{})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask")
	return cmd
}

func (a *app) tokensRotate() *cobra.Command {
	var yes bool
	var grace, until string
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "give a token a new secret, shown only this once; the old one stops at once or after --grace",
		Long: `Give a token a new secret. The old secret stops working at once, and so
does every access and refresh token issued under it, unless --grace (a
duration such as 24h or 7d) or --previous-secret-expire-time (an RFC 3339
time) lets it keep working until then (at most 7 days): deploy the new
secret meanwhile, with no downtime. Revoking the token ends both secrets
at once. The new secret is printed once. On a terminal it asks first;
elsewhere it needs --yes.`,
		Example: `  chave tokens rotate "$(chave tokens list --tenant acme -o name | head -1)" --yes -o jsonpath='{.clientSecret}'
  chave tokens rotate "$(chave tokens list --tenant acme -o name | head -1)" --grace 24h --yes`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			body := map[string]any{}
			fs := cmd.Flags()
			switch {
			case fs.Changed("grace") && fs.Changed("previous-secret-expire-time"):
				return Usagef("--grace and --previous-secret-expire-time exclude each other")
			case fs.Changed("grace"):
				d, err := parseDays(grace)
				if err != nil || d <= 0 {
					return Usagef("--grace: want a positive duration such as 24h, 7d or 30m, got %q", grace)
				}
				body["previousSecretExpireTime"] = a.now().Add(d).UTC().Format(time.RFC3339)
			case fs.Changed("previous-secret-expire-time"):
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					return Usagef("--previous-secret-expire-time: want an RFC 3339 time (2027-01-31T18:00:00-03:00), got %q", until)
				}
				body["previousSecretExpireTime"] = t.UTC().Format(time.RFC3339)
			}
			question := a.lang.t("Trocar o segredo do token %s? O segredo atual deixa de valer agora.", "Rotate the secret of token %s? The current secret stops working now.")
			if end, ok := body["previousSecretExpireTime"].(string); ok {
				question = a.lang.t("Trocar o segredo do token %s? O segredo atual vale até "+end+".", "Rotate the secret of token %s? The current secret keeps working until "+end+".")
			}
			if err := a.confirm(yes, question, args[0]); err != nil {
				return err
			}
			return a.printSecret(cmd, "POST", "/v1/tokens/"+url.PathEscape(args[0])+":rotate", body)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask")
	cmd.Flags().StringVar(&grace, "grace", "", "keep the old secret working this long (24h, 7d; at most 7d)")
	cmd.Flags().StringVar(&until, "previous-secret-expire-time", "", "keep the old secret working until this RFC 3339 time (at most 7 days ahead)")
	return cmd
}

// confirm asks on a terminal; elsewhere it wants --yes.
func (a *app) confirm(yes bool, question string, args ...any) error {
	if yes {
		return nil
	}
	if !a.env.StdinIsTerminal {
		return Usagef("not a terminal: add --yes to confirm")
	}
	fmt.Fprintf(a.env.Stderr, question+" "+a.lang.t("[s/N] ", "[y/N] "), args...)
	var answer string
	_, _ = fmt.Fscanln(a.env.Stdin, &answer)
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "s", "sim", "y", "yes":
		return nil
	}
	return &cancelled{}
}

// cancelled is a confirmation the user declined: exit code 1.
type cancelled struct{}

func (*cancelled) Error() string { return "cancelled" }

func (a *app) tokensEvents() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "events ID",
		Short:             "a token's audit trail: who created, changed, rotated or revoked it, and when",
		Example:           `  chave tokens events "$(chave tokens list -o name | head -1)"`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var resp registryv1.ListTokenEventsResponse
			raw, err := a.fetch(cmd, "GET", "/v1/tokens/"+url.PathEscape(args[0])+"/events", nil, nil, &resp)
			if err != nil {
				return err
			}
			names := make([]string, len(resp.GetEvents()))
			for i, e := range resp.GetEvents() {
				names[i] = e.GetAction()
			}
			return a.print(result{raw: raw, names: names, table: func(w io.Writer, s *style) error {
				t := newTable(w, s, s.lang.t("QUANDO", "WHEN"), s.lang.t("AÇÃO", "ACTION"), s.lang.t("POR", "BY"), s.lang.t("CAMPOS", "FIELDS"), s.lang.t("DETALHES", "DETAILS"))
				for _, e := range resp.GetEvents() {
					t.row(false, when(e.GetTime().AsTime(), e.GetTime() != nil, s), e.GetAction(), e.GetActor(), strings.Join(e.GetFields(), ","), details(e.GetDetails()))
				}
				return t.flush()
			}})
		},
	}
	return cmd
}

// details prints an event's details as key=value, sorted by key.
func details(d map[string]string) string {
	if len(d) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, " ")
}

// policyViolations names the fields that break the tenant's policy.
func policyViolations(t *registryv1.Token, s *style) string {
	if len(t.GetPolicyViolations()) == 0 {
		return "-"
	}
	return s.lang.t("descumpre em ", "breaks it in ") + strings.Join(t.GetPolicyViolations(), ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
