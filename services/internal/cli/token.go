package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) tokenCommand() *cobra.Command {
	var scope string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "print an access token for the CLI's credential (client credentials grant)",
		Long: `Print an access token for the credential the CLI signs in with, obtained by
the OAuth 2.0 client credentials grant at /oauth2/token. Only the token is
printed, so that it fits in a header.`,
		Example: `  curl -H "Authorization: Bearer $(chave token)" http://localhost:8080/v1/contexts
  chave token --scope registry.admin -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			c, err := a.clientFor(cmd)
			if err != nil {
				return err
			}
			raw, tr, err := c.Grant(ctxOf(cmd), scope)
			if err != nil {
				return err
			}
			return a.print(result{raw: raw, names: []string{tr.AccessToken}, table: func(w io.Writer, _ *style) error {
				_, err := fmt.Fprintln(w, tr.AccessToken)
				return err
			}})
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "narrow the token to these space-separated contexts")
	a.addConnFlags(cmd.Flags())
	a.addOutputFlag(cmd.Flags())
	return cmd
}

// introspection is RFC 7662's answer, as far as the table shows it.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	TokenUse  string `json:"token_use"`
	TenantID  string `json:"tenantid"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Iss       string `json:"iss"`
	Jti       string `json:"jti"`
	Sub       string `json:"sub"`
	TokenType string `json:"token_type"`
}

func (a *app) introspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "introspect TOKEN",
		Short: "ask the server whether an access or refresh token is active, and what it carries (RFC 7662)",
		Long: `Ask the server about an access or refresh token (RFC 7662). The CLI's
credential authenticates the question: a client sees its own tokens, a
credential with the token.introspect scope those of its tenant, the operator
every one. A token it may not see, or that is no longer good, is inactive.`,
		Example: `  chave introspect "$(chave token)"
  chave introspect "$(chave token)" -o jsonpath='{.active}'`,
		Args: exactArgs("token"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := a.out.mode(); err != nil {
				return err
			}
			c, err := a.clientFor(cmd)
			if err != nil {
				return err
			}
			raw, err := c.Introspect(ctxOf(cmd), args[0])
			if err != nil {
				return err
			}
			var in introspection
			if err := json.Unmarshal(raw, &in); err != nil {
				return fmt.Errorf("unexpected answer from the server: %w", err)
			}
			return a.print(result{raw: raw, names: []string{in.Jti}, table: func(w io.Writer, s *style) error {
				l := s.lang
				if !in.Active {
					return fields(w, l.t("ativo", "active"), l.t("não", "no"))
				}
				unix := func(n int64) string {
					if n == 0 {
						return "-"
					}
					return when(time.Unix(n, 0), true, s)
				}
				return fields(w,
					l.t("ativo", "active"), l.t("sim", "yes"),
					"client_id", in.ClientID,
					"tenantid", in.TenantID,
					"scope", strings.TrimSpace(in.Scope),
					l.t("tipo", "use"), in.TokenUse,
					l.t("expira", "expires"), unix(in.Exp),
					l.t("emitido", "issued"), unix(in.Iat),
					"iss", in.Iss,
					"jti", in.Jti)
			}})
		},
	}
	a.addConnFlags(cmd.Flags())
	a.addOutputFlag(cmd.Flags())
	return cmd
}
