package consoletest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

const botToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// jwtClaims decodes a JWT's payload without checking it (the server's own
// tests check signatures; here it shows the grant worked for this client).
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTokenLifecycle is the operator's whole day in the console: sign in,
// create a company, generate a token with custom access and parameters,
// copy its secret once and use it, find it masked after a reload, edit,
// rotate and revoke it, and read its history.
func TestTokenLifecycle(t *testing.T) {
	srv := startServer(t, nil)
	b := startBrowser(t, 1280, 800)
	b.grantClipboard(srv.base)

	// Sign in with the operator credential.
	b.navigate(srv.base + "/")
	b.waitVisible(`//h1[normalize-space()='Cadastro de Tokens de Acesso']`)
	b.screenshot("sign-in")
	b.axe("sign-in")
	b.typeInto(field("ID do cliente"), srv.opID)
	b.typeInto(field("Segredo do cliente"), "chave_sk_wrong")
	b.click(button("Entrar"))
	b.waitVisible(text("ID do cliente ou segredo inválido."))
	b.screenshot("sign-in-refused")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")
	if got := run(b, evalString(`sessionStorage.getItem('chave.session') || ''`)); strings.Contains(got, srv.opSec) || !strings.Contains(got, "accessToken") {
		t.Errorf("sessionStorage holds %q: want the access token and never the secret", got)
	}
	if got := run(b, evalString(`JSON.stringify(Object.assign({}, localStorage))`)); strings.Contains(got, "accessToken") || strings.Contains(got, srv.opSec) {
		t.Errorf("localStorage holds %q", got)
	}
	// Only the operator's own credential so far.
	b.waitVisible(rowOf("Operator (bootstrap)"))
	b.screenshot("first-list")

	// A company, created by the operator.
	b.click(button("Empresas"))
	b.click(button("+ NOVA EMPRESA"))
	b.typeInto(field("Identificador"), "acme")
	b.typeInto(field("Nome da empresa"), "Acme Ltda")
	for _, ctx := range []string{"Estoque", "Comercial", "FoccoHub", "Telegram"} {
		b.click(label(ctx))
	}
	b.screenshot("company-form")
	b.axe("company form")
	b.click(button("Criar empresa"))
	b.waitVisible(`//td[normalize-space()='Acme Ltda']`)
	b.waitVisible(`//td[normalize-space()='Comercial, Estoque, FoccoHub, Telegram' or contains(., 'Estoque')]`)
	b.screenshot("companies")
	b.axe("companies")
	if got := srv.api("GET", "/v1/tenants/acme", nil); got["displayName"] != "Acme Ltda" || len(got["contexts"].([]any)) != 4 {
		t.Fatalf("tenant created by the console: %v", got)
	}

	// Generate a token: custom access, a marketplace and a Telegram bot token.
	b.click(button("Tokens"))
	b.click(button("+ GERAR TOKEN"))
	b.waitVisible(`//h1[normalize-space()='Gerar token']`)
	b.typeInto(field("Nome"), "Equipe financeiro")
	b.typeInto(field("Descrição"), "Token para consulta da equipe do financeiro")
	b.choose("Empresa", "Acme Ltda")
	expiry := time.Now().AddDate(0, 2, 0)
	b.setValue(field("Data de Expiração"), expiry.Format("2006-01-02"))
	b.click(label("Acesso personalizado"))
	b.click(label("Estoque"))
	b.click(label("FoccoHub"))
	b.click(label("Telegram"))
	b.waitVisible(`//fieldset[legend[normalize-space()='Parâmetros do Token']]`)
	b.choose("Marketplace (FoccoHub)", "mercado-livre")
	if typ := run(b, evalString(fmt.Sprintf(`document.evaluate(%s, document, null, 9, null).singleNodeValue.type`, jsString(field("Token da API do bot (Telegram)"))))); typ != "password" {
		t.Errorf("the bot token's input is %q, want password", typ)
	}
	b.typeInto(field("Token da API do bot (Telegram)"), botToken)
	b.screenshot("token-form")
	b.axe("token form")
	b.click(button("Gerar token"))

	// The secret, once, with the document's warning.
	secretDialog := dialog("Token “Equipe financeiro” gerado")
	b.waitVisible(secretDialog)
	b.waitVisible(inDialog(text("Certifique-se de copiar o seu token no momento da geração, por questões de segurança ele não é armazenado e você não poderá vê-lo novamente.")))
	secret := b.value(inDialog(field("Token (segredo do cliente)")))
	clientID := b.value(inDialog(field("ID do cliente")))
	if !strings.HasPrefix(secret, "chave_sk_") || clientID == "" {
		t.Fatalf("one-time dialog shows secret %q, client id %q", secret, clientID)
	}
	curl := b.textOf(inDialog(`//pre[contains(., 'oauth2/token')]`))
	if !strings.Contains(curl, clientID+":"+secret) || !strings.Contains(curl, srv.base+"/oauth2/token") {
		t.Errorf("curl example: %q", curl)
	}
	tss := b.textOf(inDialog(`//pre[contains(., 'clientSecret')]`))
	if !strings.Contains(tss, `"clientId": "`+clientID+`"`) || !strings.Contains(tss, `"grantType": 1`) {
		t.Errorf("WSTSSAUTH body: %q", tss)
	}
	b.screenshot("one-time-secret")
	b.axe("one-time dialog")
	// Leaving the page while the secret is shown asks first.
	if !b.reloadIsGuarded() {
		t.Errorf("reloading with the one-time dialog open was not guarded (beforeunload)")
	}
	b.waitVisible(secretDialog)

	// Closing before copying asks first.
	b.click(inDialog(button("Fechar")))
	b.waitVisible(dialog("Você copiou o token?"))
	b.screenshot("did-you-copy")
	b.axe("did-you-copy dialog")
	b.click(inDialog(button("Voltar ao token")))
	b.waitGone(dialog("Você copiou o token?"))
	b.waitVisible(secretDialog)

	// Escape is the same as closing: it asks too.
	b.press(kb.Escape)
	b.waitVisible(dialog("Você copiou o token?"))
	b.click(inDialog(button("Voltar ao token")))
	b.waitGone(dialog("Você copiou o token?"))

	b.click(inDialog(button("Copiar token")))
	b.waitVisible(inDialog(text("Token copiado para a área de transferência.")))
	if got := b.clipboard(); got != secret {
		t.Fatalf("clipboard holds %q, want the secret %q", got, secret)
	}
	// The copied secret works at /oauth2/token.
	status, body := srv.grant(clientID, secret)
	if status != 200 {
		t.Fatalf("grant with the copied secret: %d %v", status, body)
	}
	claims := jwtClaims(t, body["access_token"].(string))
	if claims["client_id"] != clientID || claims["tenantid"] != "acme" || !strings.Contains(claims["scope"].(string), "telegram") {
		t.Errorf("JWT claims: %v", claims)
	}
	b.click(inDialog(button("Fechar")))
	b.waitGone(secretDialog)

	// The detail, after a reload: every field, the bot token masked, the
	// secret nowhere.
	b.waitVisible(`//h1[normalize-space()='Equipe financeiro']`)
	b.do(reload())
	b.waitVisible(`//h1[normalize-space()='Equipe financeiro']`)
	b.waitVisible(`//dd[normalize-space()='Token para consulta da equipe do financeiro']`)
	b.waitVisible(`//dd[normalize-space()='Acme Ltda']`)
	b.waitVisible(`//dd[normalize-space()='Estoque, FoccoHub, Telegram']`)
	params := b.textOf(`//dt[normalize-space()='Parâmetros do Token']/following-sibling::dd[1]`)
	if !strings.Contains(params, "mercado-livre") || strings.Contains(params, botToken) || !strings.Contains(params, "********") {
		t.Errorf("parameters shown as %q: want the marketplace and the bot token masked", params)
	}
	page := run(b, evalString(`document.body.innerText`))
	if strings.Contains(page, secret) || strings.Contains(page, botToken) {
		t.Errorf("the detail view shows the secret or the bot token")
	}
	b.waitVisible(`//dt[normalize-space()='Último uso']/following-sibling::dd[1][normalize-space()!='nunca']`)
	b.screenshot("detail")
	b.axe("detail")

	// Masked in the list too, with its badge and last use.
	b.click(button("Voltar à lista"))
	b.waitVisible(rowOf("Equipe financeiro"))
	b.waitVisible(rowOf("Equipe financeiro") + `//span[normalize-space()='Ativo']`)
	b.waitVisible(text("Mostrando 2 tokens"))
	b.screenshot("list")
	b.axe("list")

	// Edit: the name and description; the bot token kept as it was.
	b.click(rowOf("Equipe financeiro") + `//a[normalize-space()='Detalhes']`)
	b.click(button("Editar"))
	b.waitVisible(`//h1[normalize-space()='Editar token: Equipe financeiro']`)
	if got := b.value(field("Nome")); got != "Equipe financeiro" {
		t.Errorf("edit form name = %q", got)
	}
	if got := b.value(field("Marketplace (FoccoHub)")); got != "mercado-livre" {
		t.Errorf("edit form marketplace = %q", got)
	}
	b.typeInto(field("Nome"), "Equipe financeiro SP")
	b.typeInto(field("Descrição"), "Consultas do financeiro de São Paulo")
	b.choose("Marketplace (FoccoHub)", "magalu")
	b.screenshot("edit-form")
	b.click(button("Salvar alterações"))
	b.waitVisible(`//h1[normalize-space()='Equipe financeiro SP']`)
	b.waitVisible(`//dd[normalize-space()='Consultas do financeiro de São Paulo']`)
	got := srv.api("GET", "/v1/tokens/"+clientID, nil)
	p := got["parameters"].(map[string]any)
	if p["foccohub"].(map[string]any)["marketplace"] != "magalu" || !strings.HasPrefix(p["telegram"].(map[string]any)["botToken"].(string), "********") {
		t.Errorf("after the edit the parameters are %v", p)
	}
	if exp, _ := time.Parse(time.RFC3339, got["expireTime"].(string)); exp.Local().Format("2006-01-02") != expiry.Format("2006-01-02") {
		t.Errorf("the edit changed the expiry to %v", got["expireTime"])
	}
	// The stored bot token is still the real one: the edit sent back the mask.
	if status, _ := srv.grant(clientID, secret); status != 200 {
		t.Errorf("grant after the edit: %d", status)
	}

	// Rotate: confirmation naming the token, then the new secret once.
	b.click(button("Gerar novo segredo"))
	b.waitVisible(dialog("Gerar novo segredo para “Equipe financeiro SP”?"))
	b.screenshot("rotate-confirm")
	b.click(inDialog(`//button[normalize-space()='Gerar novo segredo']`))
	rotated := dialog("Novo segredo de “Equipe financeiro SP”")
	b.waitVisible(rotated)
	newSecret := b.value(inDialog(field("Token (segredo do cliente)")))
	if newSecret == secret || !strings.HasPrefix(newSecret, "chave_sk_") {
		t.Fatalf("rotated secret %q", newSecret)
	}
	b.click(inDialog(button("Copiar token")))
	b.waitVisible(inDialog(text("Token copiado para a área de transferência.")))
	if got := b.clipboard(); got != newSecret {
		t.Errorf("clipboard after rotation holds %q", got)
	}
	b.screenshot("rotated-secret")
	b.click(inDialog(button("Fechar")))
	b.waitGone(rotated)
	if status, _ := srv.grant(clientID, secret); status == 200 {
		t.Errorf("the old secret still works after rotation")
	}
	if status, body := srv.grant(clientID, newSecret); status != 200 {
		t.Errorf("the new secret: %d %v", status, body)
	}

	// Revoke: confirmation naming the token; it stays as history.
	b.waitVisible(`//h1[normalize-space()='Equipe financeiro SP']`)
	b.click(`//div[contains(@class,'actions')]/button[normalize-space()='Revogar']`)
	b.waitVisible(dialog("Revogar o token “Equipe financeiro SP”?"))
	b.screenshot("revoke-confirm")
	b.axe("revoke confirmation")
	b.click(inDialog(`//button[normalize-space()='Revogar']`))
	b.waitVisible(`//div[contains(@class,'title-row')]/span[normalize-space()='Revogado']`)
	if status, _ := srv.grant(clientID, newSecret); status == 200 {
		t.Errorf("a revoked token's secret still works")
	}
	b.waitVisible(`//dt[normalize-space()='Revogado por']/following-sibling::dd[1][normalize-space()=` + xq(srv.opID) + `]`)
	// The history, newest first: revoked, rotated, changed, created.
	history := run(b, evalString(`[...document.querySelectorAll('.timeline .timeline-title')].map(e => e.textContent).join('|')`))
	if history != "Revogado|Novo segredo gerado|Alterado|Criado" {
		t.Errorf("history reads %q", history)
	}
	b.screenshot("revoked-detail")
	b.axe("revoked detail")

	// In the list, filtered by state.
	b.click(button("Voltar à lista"))
	b.choose("Situação", "Revogado")
	b.waitVisible(rowOf("Equipe financeiro SP") + `//span[normalize-space()='Revogado']`)
	b.waitVisible(text("Mostrando 1 token"))
	b.choose("Situação", "Ativo")
	b.waitVisible(rowOf("Operator (bootstrap)"))
	b.waitGone(rowOf("Equipe financeiro SP"))
	b.choose("Situação", "Todas")
	b.waitVisible(rowOf("Equipe financeiro SP"))
	b.screenshot("list-with-history")

	// Signing out forgets the access token.
	b.click(button("Sair"))
	b.waitVisible(field("Segredo do cliente"))
	if got := run(b, evalString(`sessionStorage.getItem('chave.session') || ''`)); got != "" {
		t.Errorf("after sign-out sessionStorage holds %q", got)
	}
}
