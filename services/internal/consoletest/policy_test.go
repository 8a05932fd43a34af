package consoletest

import (
	"fmt"
	"testing"
	"time"
)

// TestNewUsageChartPolicyAndFilters: the token detail charts the grants
// made (with its table alternative), the operator edits a company's
// policy on its page, a token written before it is flagged, and the list
// filters "unused for 90 days" and "expiring within 7 days" reach the API.
func TestNewUsageChartPolicyAndFilters(t *testing.T) {
	srv := startServer(t, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory", "commercial"}})
	used := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Integração usada", "tenant": "acme", "contexts": []string{"inventory"}})
	srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Expira na semana", "tenant": "acme", "contexts": []string{"inventory"},
		"expireTime": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)})
	id, secret := used["clientId"].(string), used["clientSecret"].(string)
	for range 3 {
		if status, body := srv.grant(id, secret); status != 200 {
			t.Fatalf("grant: %d %v", status, body)
		}
	}
	if status, _ := srv.grant(id, "chave_sk_wrong"); status != 401 {
		t.Fatalf("wrong secret: %d", status)
	}

	b := startBrowser(t, 1280, 900)
	b.navigate(srv.base + "/")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")

	// Usage on the token detail: summary, bars, and the table.
	b.navigate(srv.base + "/#/tokens/" + id)
	b.waitVisible(text("3 pedidos de token com sucesso e 1 com falha nos últimos 30 dias (UTC)."))
	if n := b.count(`//*[local-name()='svg' and @role='img']//*[local-name()='rect']`); n != 2 {
		t.Errorf("usage chart draws %d bars, want 2 (today's succeeded and failed)", n)
	}
	b.click(`//summary[normalize-space()='Mostrar como tabela']`)
	today := time.Now().UTC().Format(time.DateOnly)
	b.waitVisible(fmt.Sprintf(`//table[contains(@class,'usage-table')]//tr[th[normalize-space()=%s] and td[1][normalize-space()='3'] and td[2][normalize-space()='1']]`, xq(today)))
	b.choose("Período", "Últimos 90 dias")
	b.waitVisible(text("3 pedidos de token com sucesso e 1 com falha nos últimos 90 dias (UTC)."))
	b.screenshot("usage-chart")
	b.axe("token detail with usage")

	// The operator sets a maximum lifetime on the company's page.
	b.navigate(srv.base + "/#/companies/acme/edit")
	b.typeInto(field("Validade máxima do token (dias)"), "90")
	b.axe("company form with its policy")
	b.click(button("Salvar alterações"))
	b.waitVisible(text("Política da empresa"))
	b.waitVisible(`//td[normalize-space()='tokens valem no máximo 90 dias']`)
	if got := srv.api("GET", "/v1/tenants/acme", nil)["policy"].(map[string]any)["maxTokenLifetime"]; got != "7776000s" {
		t.Fatalf("policy saved as %v, want 7776000s", got)
	}
	b.navigate(srv.base + "/#/tokens/" + id)
	b.waitVisible(`//dt[normalize-space()='Descumpre a política da empresa']`)

	// List filters.
	b.navigate(srv.base + "/#/tokens")
	b.choose("Empresa", "Acme Ltda")
	b.choose("Atividade", "Expira em até 7 dias")
	b.waitVisible(text("Mostrando 1 token"))
	b.waitVisible(rowOf("Expira na semana"))
	b.choose("Atividade", "Sem uso há 90 dias")
	b.waitVisible(text("Mostrando 0 tokens"))
}
