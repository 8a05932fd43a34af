// Package consoletest drives the admin console (gateway/console) in
// headless Chromium against a real all-in-one chave server, as a person
// would: it finds controls by their labels, roles and texts, reads the
// clipboard, runs axe-core in the page and saves a screenshot of each step
// under test-artifacts/console/.
package consoletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chave/chave/services/internal/app"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds each browser step: a loaded 2-core machine is slow,
// and every wait is for a condition, never a fixed time.
const stepTimeout = 45 * time.Second

// repoRoot is the directory holding go.work.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test's directory")
		}
		dir = parent
	}
}

// server is a running all-in-one chave and a REST client for it.
type server struct {
	t           testing.TB
	base        string
	opID, opSec string
	client      *http.Client
	opTokenOnce sync.Once
	opAccessTok string
}

func startServer(t testing.TB, edit func(*app.Config)) *server {
	t.Helper()
	dir := t.TempDir()
	var stdout bytes.Buffer
	cfg := app.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: "sqlite://" + filepath.Join(dir, "chave.db"),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var cred struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil || cred.ClientID == "" {
		t.Fatalf("no operator credential printed: %q", stdout.String())
	}
	return &server{t: t, base: "http://" + srv.HTTPAddr(), opID: cred.ClientID, opSec: cred.ClientSecret, client: &http.Client{Timeout: 20 * time.Second}}
}

// grant runs the client-credentials grant and returns the status and body.
func (s *server) grant(id, secret string) (int, map[string]any) {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", s.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return s.send(req)
}

func (s *server) send(req *http.Request) (int, map[string]any) {
	s.t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &m); err != nil {
		s.t.Fatalf("%s %s: %d, body not JSON: %s", req.Method, req.URL.Path, resp.StatusCode, data)
	}
	return resp.StatusCode, m
}

// operatorToken is an access token of the operator credential.
func (s *server) operatorToken() string {
	s.opTokenOnce.Do(func() {
		status, body := s.grant(s.opID, s.opSec)
		if status != 200 {
			s.t.Fatalf("operator grant: %d %v", status, body)
		}
		s.opAccessTok = body["access_token"].(string)
	})
	return s.opAccessTok
}

// api calls the REST API as the operator and fails the test unless it
// answers 200.
func (s *server) api(method, path string, body any) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.operatorToken())
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	status, m := s.send(req)
	if status != 200 {
		s.t.Fatalf("%s %s: %d %v", method, path, status, m)
	}
	return m
}

// browserSession is one headless Chromium tab.
type browserSession struct {
	t         testing.TB
	ctx       context.Context
	shots     string
	step      int
	axeSource string
}

// startBrowser starts headless Chromium at the given window size. Without
// chromium the test fails, naming the package to install: the console's
// tests are part of `make test`, never skipped.
func startBrowser(t testing.TB, width, height int) *browserSession {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("the console's browser tests need Debian's chromium at %s (apt-get install chromium; .ci/run installs it): %v", chromiumPath, err)
	}
	root := repoRoot(t)
	axe, err := os.ReadFile(filepath.Join(root, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("the console's browser tests need axe-core from npm (run `npm ci` at the repository root; `make test` does): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "pt-BR"),
		chromedp.Flag("accept-lang", "pt-BR,pt"),
		chromedp.Env("LANG=pt_BR.UTF-8", "LANGUAGE=pt_BR:pt"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	shots := filepath.Join(root, "test-artifacts", "console", name)
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browserSession{t: t, ctx: ctx, shots: shots, axeSource: string(axe)}
	// Start the browser and the tab, and let the test inject axe-core under
	// the console's strict CSP (the test's only exception to it).
	// The first step starts the browser, which lives as long as the
	// context it runs in: b.ctx, not a step's timeout.
	err = chromedp.Do(ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
		return chromedp.Void{}, err
	}))
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.viewport(width, height)
	return b
}

// do runs browser steps, each bounded by stepTimeout.
func (b *browserSession) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		err := chromedp.Do(ctx, s)
		cancel()
		if err != nil {
			b.screenshot("failure")
			b.t.Fatalf("browser step: %v", err)
		}
	}
}

func run[T any](b *browserSession, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.screenshot("failure")
		b.t.Fatalf("browser step: %v", err)
	}
	return v
}

func (b *browserSession) viewport(width, height int) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(int64(width), int64(height)))
}

// grantClipboard lets the page at origin read and write the clipboard.
func (b *browserSession) grantClipboard(origin string) {
	b.t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     origin,
		})
		cancel()
		if err != nil {
			b.t.Fatalf("granting %s: %v", name, err)
		}
	}
}

// screenshot saves the viewport as the next numbered PNG.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.step++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.step, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("saving screenshot: %v", err)
	}
}

// axe runs axe-core on the page as it is and fails the test on any serious
// or critical violation.
func (b *browserSession) axe(view string) {
	b.t.Helper()
	loaded := run(b, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if !loaded {
		b.do(chromedp.Evaluate[chromedp.Void](b.axeSource))
	}
	const script = `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + n.failureSummary)}))))`
	out := run(b, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		b.t.Fatalf("axe result: %v: %s", err, out)
	}
	for _, v := range violations {
		b.t.Errorf("axe (%s): %s %s: %s\n\t%s", view, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

// ---- finding things as a person does ----

// xq quotes s as an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	parts := strings.Split(s, "'")
	return "concat('" + strings.Join(parts, `', "'", '`) + "')"
}

// inDialog scopes an XPath to the topmost open dialog.
func inDialog(xpath string) string { return "(//dialog[@open])[last()]" + xpath }

// field is the control whose <label> reads label (a required field's
// label ends in " *").
func field(label string) string {
	return fmt.Sprintf(`//*[@id=//label[normalize-space()=%s or normalize-space()=%s]/@for]`, xq(label), xq(label+" *"))
}

// button is a button or a link that reads text (or has it as its
// accessible name).
func button(text string) string {
	return fmt.Sprintf(`//*[self::button or self::a][normalize-space()=%s or @aria-label=%s]`, xq(text), xq(text))
}

// dialog is the open dialog named by its title.
func dialog(title string) string {
	return fmt.Sprintf(`//dialog[@open][@aria-labelledby=//h2[normalize-space()=%s]/@id]`, xq(title))
}

// text is any element whose own text reads s.
func text(s string) string {
	return fmt.Sprintf(`//*[normalize-space(text())=%s]`, xq(s))
}

// label is the <label> that reads s, to click a checkbox or radio button.
func label(s string) string {
	return fmt.Sprintf(`//label[normalize-space()=%s or normalize-space()=%s]`, xq(s), xq(s+" *"))
}

// rowOf is the table row of the token named name.
func rowOf(name string) string {
	return fmt.Sprintf(`//tr[.//a[normalize-space()=%s]]`, xq(name))
}

func (b *browserSession) navigate(u string) {
	b.t.Helper()
	b.do(chromedp.Navigate(u))
}

func (b *browserSession) click(xpath string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(xpath), chromedp.Click(xpath, chromedp.NodeVisible))
}

// typeInto replaces a field's value by typing.
func (b *browserSession) typeInto(xpath, value string) {
	b.t.Helper()
	b.setValue(xpath, "")
	b.do(chromedp.SendKeys(xpath, value))
}

// setValue sets an input's value the way a date or colour picker does,
// and tells the page.
func (b *browserSession) setValue(xpath, value string) {
	b.t.Helper()
	b.waitVisible(xpath)
	b.eval(fmt.Sprintf(`(() => { const el = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); })()`,
		jsString(xpath), jsString(value)))
}

// choose picks the option that reads optionText in the select labelled
// label.
func (b *browserSession) choose(labelText, optionText string) {
	b.t.Helper()
	sel := field(labelText)
	b.waitVisible(sel)
	b.do(chromedp.WaitReady(sel + fmt.Sprintf(`/option[normalize-space()=%s]`, xq(optionText))))
	b.eval(fmt.Sprintf(`(() => { const el = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		const opt = [...el.options].find(o => o.textContent.trim() === %s);
		el.focus(); el.value = opt.value; el.dispatchEvent(new Event('change', {bubbles: true})); })()`,
		jsString(sel), jsString(optionText)))
}

func (b *browserSession) press(key string) {
	b.t.Helper()
	b.do(chromedp.KeyEvent(key))
}

func (b *browserSession) eval(js string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](js, chromedp.EvalAwaitPromise))
}

func (b *browserSession) waitVisible(xpath string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(xpath))
}

func (b *browserSession) waitGone(xpath string) {
	b.t.Helper()
	b.do(chromedp.WaitNotPresent(xpath))
}

func (b *browserSession) value(xpath string) string {
	b.t.Helper()
	return run(b, chromedp.Value(xpath))
}

func (b *browserSession) textOf(xpath string) string {
	b.t.Helper()
	return run(b, chromedp.Text(xpath, chromedp.NodeVisible))
}

// count is how many elements match right now.
func (b *browserSession) count(xpath string) int {
	b.t.Helper()
	return run(b, chromedp.Evaluate[int](fmt.Sprintf(
		`document.evaluate(%s, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, jsString(xpath))))
}

// clipboard reads the clipboard as the page sees it.
func (b *browserSession) clipboard() string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
}

func jsString(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// signIn fills the sign-in form and waits for the list of tokens.
func (b *browserSession) signIn(id, secret, listTitle string) {
	b.t.Helper()
	b.typeInto(field("ID do cliente"), id)
	b.typeInto(field("Segredo do cliente"), secret)
	b.click(button("Entrar"))
	b.waitVisible(fmt.Sprintf(`//h1[normalize-space()=%s]`, xq(listTitle)))
}

func evalString(js string) chromedp.Action[string] { return chromedp.Evaluate[string](js) }

func reload() chromedp.Action[chromedp.Void] { return chromedp.Reload() }

func waitHidden(xpath string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitNotVisible(xpath)
}

// reloadIsGuarded asks the page to reload and reports whether it asked
// first (beforeunload); it answers "stay", so the page stays as it was.
func (b *browserSession) reloadIsGuarded() bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	b.eval(`setTimeout(() => location.reload(), 0)`)
	for ev, err := range dialogs {
		if err != nil {
			return false
		}
		if _, err := chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}); err != nil {
			b.t.Fatalf("answering the %s dialog: %v", ev.Type, err)
		}
		return ev.Type == page.DialogTypeBeforeunload
	}
	return false
}
