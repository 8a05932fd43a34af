package app

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chave/chave/services/internal/secrets"
)

// serverKeysCollector exposes, on every scrape, which version of each
// server key this process makes values under and which it still accepts:
// what an operator watches to know every replica has read an activation
// before draining the old version.
type serverKeysCollector struct {
	keys  secrets.KeyProvider
	kinds []secrets.Kind
}

var (
	serverKeyActiveDesc = prometheus.NewDesc("chave_server_key_active_version",
		"The version of the server key (hmac, seal, refresh) that new values are made under.", []string{"kind"}, nil)
	serverKeyUsableDesc = prometheus.NewDesc("chave_server_key_usable",
		"1 for each version of the server key whose values this process accepts.", []string{"kind", "version"}, nil)
)

func (c serverKeysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- serverKeyActiveDesc
	ch <- serverKeyUsableDesc
}

func (c serverKeysCollector) Collect(ch chan<- prometheus.Metric) {
	k, err := c.keys.Keys(context.Background())
	if err != nil || k == nil {
		return
	}
	for _, kind := range c.kinds {
		r := k.Ring(kind)
		ch <- prometheus.MustNewConstMetric(serverKeyActiveDesc, prometheus.GaugeValue, float64(r.Active), string(kind))
		for _, v := range r.Usable() {
			ch <- prometheus.MustNewConstMetric(serverKeyUsableDesc, prometheus.GaugeValue, 1, string(kind), strconv.Itoa(v.Version))
		}
	}
}

// registerServerKeys adds the collector of the kinds use needs to reg.
func registerServerKeys(reg prometheus.Registerer, keys secrets.KeyProvider, use keyUse) error {
	var kinds []secrets.Kind
	if use&useStorageKeys != 0 {
		kinds = append(kinds, secrets.KindHMAC, secrets.KindSeal)
	}
	if use&useRefreshKey != 0 {
		kinds = append(kinds, secrets.KindRefresh)
	}
	return reg.Register(serverKeysCollector{keys: keys, kinds: kinds})
}
