package cli

import (
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

func (a *app) tenantsCommand() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "tenants",
		Short: "create, list and change tenants (companies) and the contexts they are entitled to",
		Long: `Manage tenants: the companies tokens belong to, each entitled to the
contexts it purchased. Only the operator credential creates and changes them;
a tenant's administrators read their own.`,
		Example: `  chave tenants list
  chave tenants get acme -o json`,
	})
	a.addConnFlags(cmd.PersistentFlags())
	a.addOutputFlag(cmd.PersistentFlags())
	cmd.AddCommand(a.tenantsCreate(), a.tenantsList(), a.tenantsGet(), a.tenantsUpdate(), a.tenantsSetPolicy())
	return cmd
}

func (a *app) tenantsCreate() *cobra.Command {
	var name string
	var contexts []string
	cmd := &cobra.Command{
		Use:   "create ID --name NAME [--context ID...]",
		Short: "create a tenant: ID is chosen by you (lowercase letters, digits and hyphens)",
		Example: `  chave tenants create acme --name ACME --context inventory --context telegram
  chave tenants create globex --name "Globex Ltda" --context inventory -o json`,
		Args: exactArgs("id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("name") {
				return Usagef("--name is required")
			}
			body := map[string]any{"id": args[0], "displayName": name, "contexts": nonNil(contexts)}
			return a.showTenant(cmd, "POST", "/v1/tenants", body)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name of the company")
	cmd.Flags().StringArrayVar(&contexts, "context", nil, "a context the tenant is entitled to (repeat for more); see chave contexts list")
	a.completeFlags(cmd)
	return cmd
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *app) tenantsUpdate() *cobra.Command {
	var name string
	var contexts []string
	cmd := &cobra.Command{
		Use:   "update ID [--name NAME] [--context ID...]",
		Short: "change a tenant's name or entitled contexts (--context replaces the list)",
		Example: `  chave tenants update acme --name "ACME Indústria"
  chave tenants update acme --context inventory --context telegram --context foccohub`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTenantIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("name") {
				body["displayName"] = name
			}
			if cmd.Flags().Changed("context") {
				body["contexts"] = nonNil(contexts)
			}
			if len(body) == 0 {
				return Usagef("nothing to change: give --name or --context")
			}
			return a.showTenant(cmd, "PATCH", "/v1/tenants/"+url.PathEscape(args[0]), body)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name of the company")
	cmd.Flags().StringArrayVar(&contexts, "context", nil, "the contexts the tenant is entitled to, replacing the current list (repeat for more)")
	a.completeFlags(cmd)
	return cmd
}

func (a *app) tenantsGet() *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "show a tenant",
		Example:           `  chave tenants get acme`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTenantIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.showTenant(cmd, "GET", "/v1/tenants/"+url.PathEscape(args[0]), nil)
		},
	}
}

func (a *app) showTenant(cmd *cobra.Command, method, path string, body any) error {
	var t registryv1.Tenant
	raw, err := a.fetch(cmd, method, path, nil, body, &t)
	if err != nil {
		return err
	}
	return a.print(result{raw: raw, names: []string{t.GetId()}, table: func(w io.Writer, s *style) error {
		return fields(w, "id", t.GetId(),
			s.lang.t("nome", "name"), t.GetDisplayName(),
			s.lang.t("contextos", "contexts"), strings.Join(t.GetContexts(), ","),
			s.lang.t("criado", "created"), when(t.GetCreateTime().AsTime(), t.GetCreateTime() != nil, s),
			s.lang.t("alterado", "updated"), when(t.GetUpdateTime().AsTime(), t.GetUpdateTime() != nil, s),
			s.lang.t("política", "policy"), policySummary(&t, s))
	}})
}

// policySummary is a tenant's policy on one line.
func policySummary(t *registryv1.Tenant, s *style) string {
	p := t.GetPolicy()
	var parts []string
	if d := p.GetMaxTokenLifetime(); d != nil {
		parts = append(parts, s.lang.t("validade máxima ", "max lifetime ")+formatDays(d.AsDuration()))
	}
	if g := p.GetGrantableContexts(); len(g) > 0 {
		parts = append(parts, s.lang.t("concede ", "grants ")+strings.Join(g, ","))
	}
	if c := p.GetAllowedClientCidrs(); len(c) > 0 {
		parts = append(parts, s.lang.t("de ", "from ")+strings.Join(c, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func (a *app) tenantsList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "list tenants by id",
		Example: "  chave tenants list\n  chave tenants list -o name",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var resp registryv1.ListTenantsResponse
			raw, err := a.fetch(cmd, "GET", "/v1/tenants", nil, nil, &resp)
			if err != nil {
				return err
			}
			names := make([]string, len(resp.GetTenants()))
			for i, t := range resp.GetTenants() {
				names[i] = t.GetId()
			}
			return a.print(result{raw: raw, names: names, table: func(w io.Writer, s *style) error {
				t := newTable(w, s, "ID", s.lang.t("NOME", "NAME"), s.lang.t("CONTEXTOS", "CONTEXTS"), s.lang.t("CRIADO", "CREATED"))
				for _, ten := range resp.GetTenants() {
					created := "-"
					if ten.GetCreateTime() != nil {
						created = s.ago(ten.GetCreateTime().AsTime())
					}
					t.row(false, ten.GetId(), ten.GetDisplayName(), strings.Join(ten.GetContexts(), ","), created)
				}
				return t.flush()
			}})
		},
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
