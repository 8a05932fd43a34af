package cli

import (
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

func (a *app) contextsCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:     "contexts",
		Short:   "the catalog of contexts (scopes) a token may reach",
		Example: "  chave contexts list\n  chave contexts list --tenant acme -o name",
	})
	a.addConnFlags(cmd.PersistentFlags())
	a.addOutputFlag(cmd.PersistentFlags())
	cmd.AddCommand(a.contextsList())
	return cmd
}

func (a *app) contextsList() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list the contexts, with their parameters, as entitled for your tenant (or --tenant's)",
		Example: `  chave contexts list
  chave contexts list --tenant acme
  LANG=en_US.UTF-8 chave contexts list`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if tenant != "" {
				q.Set("tenant", tenant)
			}
			var resp registryv1.ListContextsResponse
			raw, err := a.fetch(cmd, "GET", "/v1/contexts", q, nil, &resp)
			if err != nil {
				return err
			}
			names := make([]string, len(resp.GetContexts()))
			for i, c := range resp.GetContexts() {
				names[i] = c.GetId()
			}
			return a.print(result{raw: raw, names: names, table: func(w io.Writer, s *style) error {
				t := newTable(w, s, "ID", s.lang.t("NOME", "NAME"), s.lang.t("PARÂMETROS", "PARAMETERS"))
				for _, c := range resp.GetContexts() {
					t.row(false, c.GetId(), c.GetDisplayName(), contextParams(c, s))
				}
				return t.flush()
			}})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "as entitled for this tenant (operator only)")
	a.completeFlags(cmd)
	return cmd
}

// contextParams describes a context's parameters: "botToken (secreto)",
// "marketplace: a|b".
func contextParams(c *registryv1.Context, s *style) string {
	var parts []string
	for _, p := range c.GetParameters() {
		d := p.GetName()
		if len(p.GetAllowedValues()) > 0 {
			d += ": " + strings.Join(p.GetAllowedValues(), "|")
		}
		var notes []string
		if p.GetSecret() {
			notes = append(notes, s.lang.t("secreto", "secret"))
		}
		if p.GetRequired() {
			notes = append(notes, s.lang.t("obrigatório", "required"))
		}
		if len(notes) > 0 {
			d += " (" + strings.Join(notes, ", ") + ")"
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}
