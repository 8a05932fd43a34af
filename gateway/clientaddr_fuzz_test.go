package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientAddress: whatever X-Forwarded-For and peer address arrive,
// clientAddress never panics, and the address it picks is the peer's or,
// only behind a trusted peer, one written in the header.
func FuzzClientAddress(f *testing.F) {
	f.Add("127.0.0.1:5000", "203.0.113.9, 10.0.0.1")
	f.Add("[::1]:80", "2001:db8::1,::ffff:1.2.3.4")
	f.Add("10.1.2.3:1", "evil, , 10.0.0.1 ,")
	f.Add("garbage", "")
	trusted, _ := ParseTrustedProxies("127.0.0.0/8, ::1, 10.0.0.0/8")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got, ok := clientAddress(r, trusted)
		if !ok {
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("clientAddress = %v: not a plain address", got)
		}
		peer, ok := clientAddress(&http.Request{RemoteAddr: remote}, nil)
		if !ok {
			t.Fatalf("no peer address from %q, yet %v", remote, got)
		}
		if got == peer {
			return
		}
		if !isTrusted(peer, trusted) {
			t.Fatalf("untrusted peer %v, yet the client is %v", peer, got)
		}
		found := false
		for _, hop := range strings.Split(xff, ",") {
			if ip, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && ip.Unmap().WithZone("") == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %v is neither the peer %v nor in %q", got, peer, xff)
		}
	})
}
