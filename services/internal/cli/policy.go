// Company policy, usage and the inactive/expiring filters.

package cli

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

func (a *app) tenantsSetPolicy() *cobra.Command {
	var maxLifetime string
	var grantable, cidrs []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-policy ID [--max-token-lifetime 90d] [--grantable-context ID...] [--allowed-cidr CIDR...] | --clear",
		Short: "set a tenant's company policy: maximum token lifetime, grantable contexts, allowed client ranges",
		Long: `Set a tenant's company policy (operator only). The flags given replace the
whole policy:
  --max-token-lifetime  tokens must expire, at most this long after each create
                        or update (90d, 720h; at least 1h)
  --grantable-context   the entitled contexts the tenant's admins may grant
                        (repeat; none: every entitled context)
  --allowed-cidr        the client address ranges the token endpoints accept
                        the tenant's credentials from (repeat, at most 64)
Tokens that break a stricter policy keep working; chave tokens get shows
them as policy violations.`,
		Example: `  chave tenants set-policy acme --max-token-lifetime 90d
  chave tenants set-policy acme --max-token-lifetime 90d --grantable-context inventory --allowed-cidr 203.0.113.0/24
  chave tenants set-policy acme --clear`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTenantIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			changed := fs.Changed("max-token-lifetime") || fs.Changed("grantable-context") || fs.Changed("allowed-cidr")
			switch {
			case clear && changed:
				return Usagef("--clear excludes the other flags")
			case !clear && !changed:
				return Usagef("nothing to set: give --max-token-lifetime, --grantable-context, --allowed-cidr or --clear")
			}
			policy := map[string]any{"grantableContexts": nonNil(grantable), "allowedClientCidrs": nonNil(cidrs)}
			if maxLifetime != "" {
				d, err := parseDays(maxLifetime)
				if err != nil || d <= 0 {
					return Usagef("--max-token-lifetime: want a duration such as 90d or 720h, got %q", maxLifetime)
				}
				policy["maxTokenLifetime"] = strconv.FormatInt(int64(d/time.Second), 10) + "s"
			}
			body := map[string]any{"policy": policy}
			q := url.Values{"updateMask": {"policy"}}
			var t registryv1.Tenant
			raw, err := a.fetch(cmd, "PATCH", "/v1/tenants/"+url.PathEscape(args[0]), q, body, &t)
			if err != nil {
				return err
			}
			return a.print(result{raw: raw, names: []string{t.GetId()}, table: func(w io.Writer, s *style) error {
				return policyFields(w, &t, s)
			}})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&maxLifetime, "max-token-lifetime", "", "the longest a token may live from each create or update (90d, 720h)")
	fs.StringArrayVar(&grantable, "grantable-context", nil, "an entitled context the tenant's admins may grant (repeat for more)")
	fs.StringArrayVar(&cidrs, "allowed-cidr", nil, "a client address range the token endpoints accept (repeat for more)")
	fs.BoolVar(&clear, "clear", false, "remove every rule")
	a.completeFlags(cmd)
	return cmd
}

// policyFields prints a tenant's policy.
func policyFields(w io.Writer, t *registryv1.Tenant, s *style) error {
	p := t.GetPolicy()
	lifetime := s.lang.t("sem limite", "no maximum")
	if d := p.GetMaxTokenLifetime(); d != nil {
		lifetime = formatDays(d.AsDuration())
	}
	return fields(w, "id", t.GetId(),
		s.lang.t("validade máxima", "max token lifetime"), lifetime,
		s.lang.t("contextos concedíveis", "grantable contexts"), orAll(p.GetGrantableContexts(), s),
		s.lang.t("redes permitidas", "allowed client CIDRs"), orAll(p.GetAllowedClientCidrs(), s))
}

func orAll(list []string, s *style) string {
	if len(list) == 0 {
		return s.lang.t("todos", "any")
	}
	return strings.Join(list, ",")
}

// formatDays writes 7776000s as 90d, and other durations as Go does.
func formatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (a *app) tokensUsage() *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "usage ID [--days 30]",
		Short: "a token's grants per day (UTC), succeeded and failed, newest first",
		Long: `Show a token's grants per UTC day over the last --days days (at most 90,
the retention): grants that issued tokens, and grants refused for its client
id (a wrong secret, an address its company policy does not allow). Days
without grants are left out.`,
		Example: `  chave tokens usage "$(chave tokens list -o name | head -1)"
  chave tokens usage "$(chave tokens list -o name | head -1)" --days 7 -o json`,
		Args:              exactArgs("id"),
		ValidArgsFunction: a.completeTokenIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 90 {
				return Usagef("--days: want 1 to 90, got %d", days)
			}
			var resp registryv1.GetTokenUsageResponse
			q := url.Values{"days": {strconv.Itoa(days)}}
			raw, err := a.fetch(cmd, "GET", "/v1/tokens/"+url.PathEscape(args[0])+"/usage", q, nil, &resp)
			if err != nil {
				return err
			}
			names := make([]string, len(resp.GetDays()))
			for i, d := range resp.GetDays() {
				names[i] = d.GetDate()
			}
			return a.print(result{raw: raw, names: names, table: func(w io.Writer, s *style) error {
				t := newTable(w, s, s.lang.t("DIA", "DATE"), s.lang.t("SUCESSO", "SUCCEEDED"), s.lang.t("FALHA", "FAILED"))
				for _, d := range resp.GetDays() {
					t.row(false, d.GetDate(), strconv.FormatInt(d.GetSucceeded(), 10), strconv.FormatInt(d.GetFailed(), 10))
				}
				return t.flush()
			}})
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "how many days back, today included (1 to 90)")
	return cmd
}

// parseWhen reads a list filter's time: a date (its start, in loc), an
// RFC 3339 time, or a duration in days or hours from now, back for
// --unused-since (90d: 90 days ago) and ahead for --expiring-before (7d).
func parseWhen(flag, s string, now time.Time, loc *time.Location, ahead bool) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseDays(s)
	if err != nil || d <= 0 {
		return time.Time{}, Usagef("%s: want a date (2026-09-01), an RFC 3339 time or a duration such as 90d, got %q", flag, s)
	}
	if ahead {
		return now.Add(d), nil
	}
	return now.Add(-d), nil
}

// listFilters adds --unused-since and --expiring-before to q.
func (a *app) listFilters(q url.Values, unusedSince, expiringBefore string) error {
	for _, f := range []struct {
		flag, value, param string
		ahead              bool
	}{
		{"--unused-since", unusedSince, "unusedSince", false},
		{"--expiring-before", expiringBefore, "expireBefore", true},
	} {
		if f.value == "" {
			continue
		}
		t, err := parseWhen(f.flag, f.value, a.now(), a.location(), f.ahead)
		if err != nil {
			return err
		}
		q.Set(f.param, t.UTC().Format(time.RFC3339))
	}
	return nil
}
