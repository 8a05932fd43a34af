package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// clientAddressMetadata is the gRPC metadata key that carries the HTTP
// client's address to the auth service, which throttles failed client
// authentications per address (auth.ClientAddressMetadata).
const clientAddressMetadata = "x-chave-client-address"

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes (or
// bare addresses): the proxies whose X-Forwarded-For the gateway believes.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR prefix nor an IP address", f)
			}
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix", f)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// withClientAddress records each request's client address in the state
// observe keeps in its context, for forwardClientAddress. Outside observe
// (in tests) it adds a state of its own.
func withClientAddress(next http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr, ok := clientAddress(r, trusted); ok {
			st := stateOf(r.Context())
			if st == nil {
				st = &requestState{route: unmatchedRoute}
				r = r.WithContext(context.WithValue(r.Context(), requestStateKey{}, st))
			}
			st.clientAddr = addr.String()
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddress is the address of the client a request is from: the
// peer's, unless the peer is a trusted proxy; then X-Forwarded-For is read
// from the right, past every trusted proxy, and the first address that is
// not one is the client (every hop to its right was added by a proxy
// chave trusts; anything to its left the client could have written).
func clientAddress(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil {
			return netip.Addr{}, false
		}
		ap = netip.AddrPortFrom(ip, 0)
	}
	addr := ap.Addr().Unmap().WithZone("")
	if !isTrusted(addr, trusted) {
		return addr, true
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// Not an address: whoever wrote it is the client as far as
				// a trusted proxy can tell; it was the last one seen.
				return addr, true
			}
			addr = hop.Unmap().WithZone("")
			if !isTrusted(addr, trusted) {
				return addr, true
			}
		}
	}
	return addr, true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardClientAddress adds the request's id and client address, as
// observe and withClientAddress recorded them, to every call made on conn
// (in one metadata addition: the services log the id, and the auth
// service throttles failed client authentications by the address).
func forwardClientAddress(conn grpc.ClientConnInterface) grpc.ClientConnInterface {
	return addressForwarder{conn}
}

type addressForwarder struct {
	grpc.ClientConnInterface
}

func (f addressForwarder) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return f.ClientConnInterface.Invoke(withForwardedAddress(ctx), method, args, reply, opts...)
}

func (f addressForwarder) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return f.ClientConnInterface.NewStream(withForwardedAddress(ctx), desc, method, opts...)
}

func withForwardedAddress(ctx context.Context) context.Context {
	st := stateOf(ctx)
	switch {
	case st == nil:
		return ctx
	case st.id != "" && st.clientAddr != "":
		return metadata.AppendToOutgoingContext(ctx, "x-request-id", st.id, clientAddressMetadata, st.clientAddr)
	case st.id != "":
		return metadata.AppendToOutgoingContext(ctx, "x-request-id", st.id)
	case st.clientAddr != "":
		return metadata.AppendToOutgoingContext(ctx, clientAddressMetadata, st.clientAddr)
	}
	return ctx
}
