package consoletest

import (
	"testing"
)

// TestNewLeakedBadgeAndRotationGrace: a token revoked by a leak report is
// flagged "Vazado" in the list and the detail, whose history names the
// source and the URL (as text); the rotate dialog offers a grace period,
// and with one both secrets work and the detail says until when.
func TestNewLeakedBadgeAndRotationGrace(t *testing.T) {
	srv := startServer(t, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory"}})
	leaked := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Vazou", "tenant": "acme", "contexts": []string{"inventory"}})
	kept := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Troca suave", "tenant": "acme", "contexts": []string{"inventory"}})
	keptID, keptSecret := kept["clientId"].(string), kept["clientSecret"].(string)
	if got := srv.api("POST", "/v1/leaks", map[string]any{"secrets": []string{leaked["clientSecret"].(string)}, "source": "github",
		"url": "https://github.com/acme/app/blob/main/.env"}); got["results"] == nil {
		t.Fatalf("leak report: %v", got)
	}

	b := startBrowser(t, 1280, 800)
	b.navigate(srv.base + "/")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")
	b.waitVisible(rowOf("Vazou") + `//span[normalize-space()='Vazado']`)
	b.waitVisible(rowOf("Troca suave") + `//span[normalize-space()='Ativo']`)
	if n := b.count(rowOf("Vazou") + `//button[normalize-space()='Revogar']`); n != 0 {
		t.Error("a leaked (revoked) token offers Revogar")
	}
	b.screenshot("leaked-badge")
	b.axe("list with a leaked token")
	b.click(rowOf("Vazou") + `//a[normalize-space()='Detalhes']`)
	b.waitVisible(`//h1[normalize-space()='Vazou']`)
	b.waitVisible(text("Revogado: segredo informado como vazado"))
	b.waitVisible(text("Informado por: github"))
	b.waitVisible(text("Encontrado em: https://github.com/acme/app/blob/main/.env"))
	if n := b.count(`//a[contains(@href, 'github.com')]`); n != 0 {
		t.Error("the reported URL is a link")
	}
	b.screenshot("leaked-detail")
	b.axe("detail of a leaked token")

	b.navigate(srv.base + "/#/tokens/" + keptID)
	b.waitVisible(`//h1[normalize-space()='Troca suave']`)
	b.click(button("Gerar novo segredo"))
	b.waitVisible(dialog("Gerar novo segredo para “Troca suave”?"))
	b.choose("O segredo atual continua valendo", "Por 1 dia")
	b.waitVisible(inDialog(text("Um novo segredo será gerado para “Troca suave”. O segredo atual continua funcionando por 1 dia e depois deixa de funcionar, com os tokens de acesso emitidos com ele.")))
	b.screenshot("rotate-grace")
	b.axe("rotate dialog with a grace period")
	b.click(inDialog(`//button[normalize-space()='Gerar novo segredo']`))
	rotated := dialog("Novo segredo de “Troca suave”")
	b.waitVisible(rotated)
	newSecret := b.value(inDialog(field("Token (segredo do cliente)")))
	b.click(inDialog(button("Fechar")))
	b.click(inDialog(button("Sim, fechar")))
	b.waitGone(`//dialog[@open]`)
	b.waitVisible(`//dt[normalize-space()='Segredo anterior vale até']`)
	b.waitVisible(text("Segredo anterior vale até"))
	for name, sec := range map[string]string{"old": keptSecret, "new": newSecret} {
		if status, body := srv.grant(keptID, sec); status != 200 {
			t.Errorf("grant with the %s secret in the grace period: %d %v", name, status, body)
		}
	}
}
