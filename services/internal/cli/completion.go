package cli

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// completeTokenIDs completes a token id from the server's list, each with
// its name, tenant and state.
func (a *app) completeTokenIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.clientFor(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	q := url.Values{"pageSize": {"500"}}
	raw, err := c.Do(ctxOf(cmd), "GET", "/v1/tokens", q, nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var resp registryv1.ListTokensResponse
	if decode(raw, &resp) != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	s := a.style()
	var out []cobra.Completion
	for _, t := range resp.GetTokens() {
		if strings.HasPrefix(t.GetId(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(t.GetId(), t.GetDisplayName()+" ("+t.GetTenant()+", "+stateName(t.GetState(), s)+")"))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeTenantIDs completes a tenant id from the server.
func (a *app) completeTenantIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.tenantIDs(cmd, toComplete)
}

func (a *app) tenantIDs(cmd *cobra.Command, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, err := a.clientFor(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	raw, err := c.Do(ctxOf(cmd), "GET", "/v1/tenants", nil, nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var resp registryv1.ListTenantsResponse
	if decode(raw, &resp) != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, t := range resp.GetTenants() {
		if strings.HasPrefix(t.GetId(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(t.GetId(), t.GetDisplayName()))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// contextIDs completes a context id: those the --tenant given (or the
// caller's tenant) is entitled to.
func (a *app) contextIDs(cmd *cobra.Command, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, err := a.clientFor(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	q := url.Values{}
	if f := cmd.Flags().Lookup("tenant"); f != nil && f.Value.String() != "" {
		q.Set("tenant", f.Value.String())
	}
	raw, err := c.Do(ctxOf(cmd), "GET", "/v1/contexts", q, nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var resp registryv1.ListContextsResponse
	if decode(raw, &resp) != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, ctx := range resp.GetContexts() {
		if strings.HasPrefix(ctx.GetId(), toComplete) {
			out = append(out, cobra.CompletionWithDesc(ctx.GetId(), ctx.GetDisplayName()))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeFlags completes the --tenant and --context flags a command has
// from the server, and --param-file as a file.
func (a *app) completeFlags(cmd *cobra.Command) {
	if cmd.Flags().Lookup("tenant") != nil {
		_ = cmd.RegisterFlagCompletionFunc("tenant", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return a.tenantIDs(cmd, toComplete)
		})
	}
	if cmd.Flags().Lookup("context") != nil {
		_ = cmd.RegisterFlagCompletionFunc("context", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return a.contextIDs(cmd, toComplete)
		})
	}
	if cmd.Flags().Lookup("param-file") != nil {
		_ = cmd.MarkFlagFilename("param-file", "json")
	}
}
