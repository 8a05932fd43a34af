package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestRequireInternalToken(t *testing.T) {
	token := strings.Repeat("s", MinInternalTokenSize)
	rule := RequireInternalToken(token)
	for name, tc := range map[string]struct {
		md metadata.MD
		ok bool
	}{
		"the token":        {metadata.Pairs(InternalTokenMetadata, token), true},
		"no metadata":      {nil, false},
		"a wrong token":    {metadata.Pairs(InternalTokenMetadata, strings.Repeat("x", MinInternalTokenSize)), false},
		"a prefix of it":   {metadata.Pairs(InternalTokenMetadata, token[:10]), false},
		"the token twice":  {metadata.Pairs(InternalTokenMetadata, token, InternalTokenMetadata, token), false},
		"in authorization": {metadata.Pairs("authorization", "Bearer "+token), false},
	} {
		ctx := context.Background()
		if tc.md != nil {
			ctx = metadata.NewIncomingContext(ctx, tc.md)
		}
		if err := rule(ctx); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want admitted %v", name, err, tc.ok)
		}
	}
}

func TestRequireClientCertificate(t *testing.T) {
	withCert := func(c *x509.Certificate) context.Context {
		st := tls.ConnectionState{}
		if c != nil {
			st.VerifiedChains = [][]*x509.Certificate{{c}}
		}
		return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: st}})
	}
	spiffe, _ := url.Parse("spiffe://cluster/ns/chave/sa/chave-auth")
	auth := &x509.Certificate{DNSNames: []string{"chave-auth"}, URIs: []*url.URL{spiffe}, Subject: pkix.Name{CommonName: "ignored"}}
	gateway := &x509.Certificate{Subject: pkix.Name{CommonName: "chave-gateway"}}
	cases := []struct {
		name, identity string
		ctx            context.Context
		ok             bool
	}{
		{"any verified certificate", "", withCert(gateway), true},
		{"no certificate", "", withCert(nil), false},
		{"no TLS at all", "", context.Background(), false},
		{"the DNS SAN", "chave-auth", withCert(auth), true},
		{"the URI SAN", spiffe.String(), withCert(auth), true},
		{"a CN beside SANs", "ignored", withCert(auth), false},
		{"the CN of a certificate without SANs", "chave-gateway", withCert(gateway), true},
		{"another certificate", "chave-auth", withCert(gateway), false},
	}
	for _, tc := range cases {
		if err := RequireClientCertificate(tc.identity)(tc.ctx); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want admitted %v", tc.name, err, tc.ok)
		}
	}
}

func TestRequireAll(t *testing.T) {
	if err := RequireAll()(context.Background()); err == nil {
		t.Error("no rules admitted a call")
	}
	token := strings.Repeat("s", MinInternalTokenSize)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(InternalTokenMetadata, token))
	if err := RequireAll(RequireInternalToken(token), RequireClientCertificate(""))(ctx); err == nil {
		t.Error("the token alone passed a rule that also wants a certificate")
	}
}
