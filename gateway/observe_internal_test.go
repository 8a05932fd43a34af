package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTTPMetricsCacheIsBoundedAndCountsEveryRequest(t *testing.T) {
	m, err := newHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const routes = maxCachedSeries + 50
	for i := range routes {
		route := fmt.Sprint("/r", i)
		m.observe("POST", route, 200, time.Millisecond)
		m.observe("POST", route, 200, time.Millisecond)
		m.observe("POST", route, 401, time.Millisecond)
	}
	if m.cached != maxCachedSeries {
		t.Errorf("cached %d series, want the bound %d", m.cached, maxCachedSeries)
	}
	for _, i := range []int{0, maxCachedSeries / 2, maxCachedSeries, routes - 1} {
		route := fmt.Sprint("/r", i)
		if got := testutil.ToFloat64(m.requests.WithLabelValues("POST", route, "200")); got != 2 {
			t.Errorf("%s 200: %v, want 2", route, got)
		}
		if got := testutil.ToFloat64(m.requests.WithLabelValues("POST", route, "401")); got != 1 {
			t.Errorf("%s 401: %v, want 1", route, got)
		}
	}
	if n := testutil.CollectAndCount(m.duration); n != 2*routes {
		t.Errorf("duration series = %d, want %d", n, 2*routes)
	}
}
