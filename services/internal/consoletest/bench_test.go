package consoletest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkListTenThousand measures the list with 10,000 tokens in one
// company: the first page after a reload, then 20 more pages with
// "Carregar mais" (1,050 rows), then a search over them (the filters are
// not kept across a reload: all companies, still 50 a page). Run it with
// `go test -run '^$' -bench ListTenThousand -benchtime 3x ./internal/consoletest/`.
func BenchmarkListTenThousand(bm *testing.B) {
	srv := startServer(bm, nil)
	srv.api("POST", "/v1/tenants", map[string]any{"id": "acme", "displayName": "Acme Ltda", "contexts": []string{"inventory"}})
	const total, workers = 10000, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				srv.api("POST", "/v1/tokens", map[string]any{"displayName": fmt.Sprintf("Integração %05d", i), "tenant": "acme", "contexts": []string{"inventory"}})
			}
		})
	}
	wg.Wait()

	b := startBrowser(bm, 1280, 800)
	b.navigate(srv.base + "/")
	b.signIn(srv.opID, srv.opSec, "Tokens de acesso")
	b.choose("Empresa", "Acme Ltda")
	b.waitVisible(text("Mostrando 50 tokens"))

	var first, pages time.Duration
	var hide, show float64
	bm.ResetTimer()
	for range bm.N {
		start := time.Now()
		b.do(reload())
		b.waitVisible(text("Mostrando 50 tokens"))
		first += time.Since(start)

		start = time.Now()
		for n := 100; n <= 1050; n += 50 {
			b.click(button("Carregar mais"))
			b.waitVisible(text(fmt.Sprintf("Mostrando %s tokens", thousands(n))))
		}
		pages += time.Since(start)

		// The search, timed inside the page: the input event and the
		// layout it causes, hiding every row and showing them again.
		ms := run(b, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => {
			const el = document.evaluate(%s, document, null, 9, null).singleNodeValue;
			const type = (v) => { const t0 = performance.now(); el.value = v;
				el.dispatchEvent(new Event('input', {bubbles: true})); void document.body.offsetHeight; return performance.now() - t0; };
			return [type('nenhum'), type('')]; })()`, jsString(field("Buscar por nome")))))
		hide += ms[0]
		show += ms[1]
	}
	n := float64(bm.N)
	bm.ReportMetric(float64(first.Milliseconds())/n, "ms/first-page")
	bm.ReportMetric(float64(pages.Milliseconds())/n/20, "ms/next-page")
	bm.ReportMetric(hide/n, "ms/search-hiding-1050-rows")
	bm.ReportMetric(show/n, "ms/search-showing-1050-rows")
}

// thousands writes n as pt-BR does (1.050).
func thousands(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d.%03d", n/1000, n%1000)
}
