package consoletest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chave/chave/services/internal/app"
)

// waitFor polls cond until it holds or the deadline passes: the server's
// clock, not the test's, decides when a token has expired.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBadgesPagingAndEnglish: the state badges (an expired token and one
// that expires within 7 days, made through the API), paging with
// "Carregar mais", the name search, the English labels after switching,
// and the main views at a phone's size.
func TestBadgesPagingAndEnglish(t *testing.T) {
	srv := startServer(t, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory", "commercial", "telegram"}})
	for i := range 55 {
		srv.api("POST", "/v1/tokens", map[string]any{"displayName": fmt.Sprintf("Integração %02d", i), "tenant": "acme", "contexts": []string{"inventory"}})
	}
	soon := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Semana", "tenant": "acme", "generalAccess": true,
		"expireTime": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)})
	never := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Sem prazo", "tenant": "acme", "contexts": []string{"commercial"}})
	short := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Expira logo", "tenant": "acme", "contexts": []string{"inventory"},
		"expireTime": time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)})
	shortID := short["clientId"].(string)
	waitFor(t, "the short-lived token to expire", func() bool {
		return srv.api("GET", "/v1/tokens/"+shortID, nil)["state"] == "TOKEN_STATE_EXPIRED"
	})
	_, _ = soon, never

	b := startBrowser(t, 1280, 800)
	b.navigate(srv.base + "/")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")
	b.choose("Empresa", "Acme Ltda")
	b.waitVisible(rowOf("Expira logo") + `//span[normalize-space()='Expirado']`)
	b.waitVisible(rowOf("Semana") + `//span[normalize-space()='Expira em breve']`)
	b.waitVisible(rowOf("Sem prazo") + `//span[normalize-space()='Ativo']`)
	b.waitVisible(rowOf("Sem prazo") + `//td[normalize-space()='nunca']`)
	b.waitVisible(rowOf("Semana") + `//td[normalize-space()='Acesso Geral']`)

	// Paging: 58 tokens in pages of 50.
	b.waitVisible(text("Mostrando 50 tokens"))
	if n := b.count(`//tbody/tr`); n != 50 {
		t.Errorf("first page shows %d rows, want 50", n)
	}
	b.screenshot("badges-first-page")
	b.axe("list with badges")
	b.click(button("Carregar mais"))
	b.waitVisible(text("Mostrando 58 tokens"))
	b.do(waitHidden(button("Carregar mais")))
	if n := b.count(`//tbody/tr`); n != 58 {
		t.Errorf("after Carregar mais: %d rows, want 58", n)
	}
	// The search narrows what is loaded.
	b.typeInto(field("Buscar por nome"), "integração 0")
	b.waitVisible(text("Mostrando 10 tokens"))
	b.typeInto(field("Buscar por nome"), "")
	b.waitVisible(text("Mostrando 58 tokens"))
	// Expired only, through the API's state filter.
	b.choose("Situação", "Expirado")
	b.waitVisible(text("Mostrando 1 token"))
	b.waitVisible(rowOf("Expira logo"))
	b.screenshot("expired-filter")
	b.choose("Situação", "Todas")
	b.waitVisible(text("Mostrando 50 tokens"))

	// English, remembered across a reload.
	b.choose("Idioma", "English")
	b.waitVisible(`//h1[normalize-space()='Access tokens']`)
	b.waitVisible(button("+ GENERATE TOKEN"))
	b.waitVisible(rowOf("Expira logo") + `//span[normalize-space()='Expired']`)
	b.waitVisible(rowOf("Semana") + `//span[normalize-space()='Expires soon']`)
	b.waitVisible(rowOf("Sem prazo") + `//span[normalize-space()='Active']`)
	b.waitVisible(rowOf("Sem prazo") + `//td[normalize-space()='never']`)
	b.waitVisible(`//th[normalize-space()='Last used']`)
	b.waitVisible(text("Showing 50 tokens"))
	b.waitVisible(button("Load more"))
	b.do(reload())
	b.waitVisible(`//h1[normalize-space()='Access tokens']`)
	if got := run(b, evalString(`document.documentElement.lang + ' ' + localStorage.getItem('chave.lang')`)); got != "en en" {
		t.Errorf("lang after reload: %q", got)
	}
	b.screenshot("english-list")
	b.axe("list in English")

	// The form in English, the contexts named from the catalog in English.
	b.click(button("+ GENERATE TOKEN"))
	b.waitVisible(`//h1[normalize-space()='Generate token']`)
	for _, l := range []string{"Name", "Expiration date", "Description", "Company"} {
		b.waitVisible(field(l))
	}
	b.choose("Company", "Acme Ltda")
	b.click(label("Custom access"))
	b.waitVisible(label("Inventory"))
	b.waitVisible(label("Commercial"))
	b.click(label("Telegram"))
	b.waitVisible(`//fieldset[legend[normalize-space()='Token parameters']]`)
	b.waitVisible(field("Bot API token (Telegram)"))
	b.screenshot("english-form")
	b.axe("form in English")

	// A past date is refused with the field named, before any request.
	b.typeInto(field("Name"), "Past")
	b.setValue(field("Expiration date"), "2020-01-01")
	b.typeInto(field("Bot API token (Telegram)"), botToken)
	b.click(button("Generate token"))
	b.waitVisible(`//div[@role='alert']//li[starts-with(normalize-space(), 'Expiration date:')]`)
	if got := run(b, evalString(fmt.Sprintf(`document.evaluate(%s, document, null, 9, null).singleNodeValue.getAttribute('aria-invalid') || ''`, jsString(field("Expiration date"))))); got != "true" {
		t.Errorf("the past date's input is not marked invalid: %q", got)
	}
	// A bad bot token is refused by the server, which names the field.
	b.setValue(field("Expiration date"), "")
	b.typeInto(field("Bot API token (Telegram)"), "not-a-bot-token")
	b.click(button("Generate token"))
	b.waitVisible(`//div[@role='alert']//li[starts-with(normalize-space(), 'Bot API token (Telegram):')]`)
	b.screenshot("english-form-errors")

	// Back in Portuguese, at a phone's size.
	b.choose("Language", "Português (Brasil)")
	b.waitVisible(`//h1[normalize-space()='Gerar token']`)
	b.viewport(390, 844)
	b.screenshot("phone-form")
	b.axe("form on a phone")
	b.click(button("Tokens"))
	b.choose("Empresa", "Acme Ltda")
	b.waitVisible(rowOf("Semana"))
	b.screenshot("phone-list")
	b.axe("list on a phone")
	b.click(rowOf("Semana") + `//a[normalize-space()='Detalhes']`)
	b.waitVisible(`//h1[normalize-space()='Semana']`)
	b.screenshot("phone-detail")
	b.axe("detail on a phone")
	b.click(button("Gerar novo segredo"))
	b.click(inDialog(`//button[normalize-space()='Gerar novo segredo']`))
	b.waitVisible(dialog("Novo segredo de “Semana”"))
	b.screenshot("phone-one-time-dialog")
	b.axe("one-time dialog on a phone")
	b.click(inDialog(button("Fechar")))
	b.click(inDialog(button("Sim, fechar")))
	b.waitGone(`//dialog[@open]`)
	b.viewport(1280, 800)
	b.click(button("Empresas"))
	b.waitVisible(`//td[normalize-space()='Acme Ltda']`)
	b.viewport(390, 844)
	b.screenshot("phone-companies")
	b.axe("companies on a phone")
}

// TestTenantAdmin: a credential with registry.admin in one company sees
// and manages only that company's tokens, and no companies.
func TestTenantAdmin(t *testing.T) {
	srv := startServer(t, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory", "commercial"}})
	srv.api("POST", "/v1/tenants", map[string]any{"id": "globex", "displayName": "Globex", "contexts": []string{"inventory"}})
	srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Acme ERP", "tenant": "acme", "contexts": []string{"inventory"}})
	globex := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Globex ERP", "tenant": "globex", "contexts": []string{"inventory"}})
	admin := srv.api("POST", "/v1/tokens", map[string]any{"displayName": "Admin Acme", "tenant": "acme", "contexts": []string{"registry.admin"}})

	b := startBrowser(t, 1280, 800)
	b.navigate(srv.base + "/")
	b.signIn(admin["clientId"].(string), admin["clientSecret"].(string), "Tokens de acesso")
	b.waitVisible(rowOf("Acme ERP"))
	b.waitVisible(rowOf("Admin Acme"))
	b.waitVisible(text("Mostrando 2 tokens"))
	if n := b.count(rowOf("Globex ERP")); n != 0 {
		t.Errorf("a tenant admin of acme sees Globex's token")
	}
	if n := b.count(`//a[normalize-space()='Empresas'][not(ancestor-or-self::*[@hidden])]`); n != 0 {
		t.Errorf("a tenant admin is offered the companies")
	}
	if got := b.count(field("Empresa") + `[@disabled]/option`); got != 1 {
		t.Errorf("the company filter of a tenant admin has %d options, want acme alone and fixed", got)
	}
	b.screenshot("tenant-admin-list")
	b.axe("tenant admin list")

	// Another company's token, by its address: not shown.
	b.navigate(srv.base + "/#/tokens/" + url.PathEscape(globex["clientId"].(string)))
	b.waitVisible(`//h1[normalize-space()='Algo deu errado']`)
	if strings.Contains(run(b, evalString(`document.body.innerText`)), "Globex ERP") {
		t.Errorf("a tenant admin sees Globex's token by its address")
	}
	b.navigate(srv.base + "/#/companies")
	b.waitVisible(`//h1[normalize-space()='Tokens de acesso']`)

	// It generates a token in its own company, with the contexts acme has.
	b.click(button("+ GERAR TOKEN"))
	b.waitVisible(`//h1[normalize-space()='Gerar token']`)
	b.typeInto(field("Nome"), "Equipe de vendas")
	b.click(label("Acesso personalizado"))
	b.click(label("Comercial"))
	b.screenshot("tenant-admin-form")
	b.click(button("Gerar token"))
	b.waitVisible(dialog("Token “Equipe de vendas” gerado"))
	b.click(inDialog(button("Fechar")))
	b.click(inDialog(button("Sim, fechar")))
	b.waitVisible(`//h1[normalize-space()='Equipe de vendas']`)
	b.waitVisible(`//dd[normalize-space()='acme']`)
	b.waitVisible(`//dd[normalize-space()='Comercial']`)

	// By keyboard: a dialog takes the focus, keeps it while Tab goes
	// round, and gives it back when Escape closes it.
	revoke := `//div[contains(@class,'actions')]/button[normalize-space()='Revogar']`
	b.do(chromedp.Focus(revoke))
	b.press(kb.Enter)
	b.waitVisible(dialog("Revogar o token “Equipe de vendas”?"))
	if got := run(b, evalString(`document.activeElement.textContent`)); got != "Cancelar" {
		t.Errorf("the confirmation opened with the focus on %q, want Cancelar", got)
	}
	for i := range 5 {
		b.press(kb.Tab)
		if in := run(b, chromedp.Evaluate[bool](`!!document.activeElement.closest('dialog[open]')`)); !in {
			t.Errorf("after %d Tab presses the focus left the dialog", i+1)
		}
	}
	b.press(kb.Escape)
	b.waitGone(`//dialog[@open]`)
	if got := run(b, evalString(`document.activeElement.textContent`)); got != "Revogar" {
		t.Errorf("after the dialog closed the focus is on %q, want Revogar", got)
	}
	b.waitVisible(`//div[contains(@class,'title-row')]/span[normalize-space()='Ativo']`)
}

// TestSignInAgain: when the access token stops working, the console asks
// to sign in again over the screen and keeps what was typed; when its
// lifetime ends, it asks by itself.
func TestSignInAgain(t *testing.T) {
	srv := startServer(t, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory"}})
	b := startBrowser(t, 1280, 800)
	b.navigate(srv.base + "/")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")
	b.click(button("+ GERAR TOKEN"))
	b.typeInto(field("Nome"), "Digitado antes")
	b.typeInto(field("Descrição"), "Não se perde")
	b.choose("Empresa", "Acme Ltda")

	// The console's access token is revoked (RFC 7009), as an expiry would
	// end it: the next call is refused.
	access := run(b, evalString(`JSON.parse(sessionStorage.getItem('chave.session')).accessToken`))
	req, _ := http.NewRequest("POST", srv.base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {access}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(srv.opID), url.QueryEscape(srv.opSec))
	resp, err := srv.client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoking the console's token: %v %v", resp, err)
	}
	resp.Body.Close()

	b.click(button("Gerar token"))
	again := dialog("Entre novamente")
	b.waitVisible(again)
	b.screenshot("sign-in-again")
	b.axe("sign-in-again dialog")
	if got := b.value(inDialog(field("ID do cliente"))); got != srv.opID {
		t.Errorf("the sign-in-again dialog offers client id %q", got)
	}
	b.typeInto(inDialog(field("Segredo do cliente")), srv.opSec)
	b.click(inDialog(button("Entrar")))
	// The call goes on with what was typed.
	b.waitVisible(dialog("Token “Digitado antes” gerado"))
	b.click(inDialog(button("Fechar")))
	b.click(inDialog(button("Sim, fechar")))
	b.waitVisible(`//dd[normalize-space()='Não se perde']`)

	// A token whose lifetime ends while the page is open.
	short := startServer(t, func(c *app.Config) { c.AccessTokenLifetime = 12 * time.Second })
	b.navigate(short.base + "/")
	b.signIn(short.opID, short.opSec, "Tokens de acesso")
	b.waitVisible(dialog("Entre novamente"))
	if got := run(b, evalString(`sessionStorage.getItem('chave.session') || ''`)); got != "" {
		t.Errorf("the expired session is still stored: %q", got)
	}
	b.typeInto(inDialog(field("Segredo do cliente")), short.opSec)
	b.click(inDialog(button("Entrar")))
	b.waitGone(`//dialog[@open]`)
	b.waitVisible(`//h1[normalize-space()='Tokens de acesso']`)
}
