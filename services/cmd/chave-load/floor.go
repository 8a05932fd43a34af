package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// floorServer is the stdlib-only floor that chave is measured against.
// POST /oauth2/token does one client-credentials grant's unavoidable work
// (parse the form and Basic credentials, a SHA-256 compare, one ES256
// signature, JSON); POST /oauth2/introspect one introspection's (parse the
// form and Basic credentials, a SHA-256 compare, one ES256 verification of
// the token the floor signed, decode its claims, JSON). Nothing else: no
// storage, no revocation set. It runs on loopback so that both sides are
// measured by the same client on the same machine.
func floorServer(clientID, clientSecret string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv, err := newFloorServer(clientID, clientSecret)
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// runFloorServer serves the floor on addr until the process ends.
func runFloorServer(addr, clientID, clientSecret string) error {
	srv, err := newFloorServer(clientID, clientSecret)
	if err != nil {
		return err
	}
	srv.Addr = addr
	return srv.ListenAndServe()
}

func newFloorServer(clientID, clientSecret string) (*http.Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	want := sha256.Sum256([]byte(clientSecret))
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"floor"}`))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(secret))
		if !ok || id != clientID || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		now := time.Now().Unix()
		jti := make([]byte, 16)
		rand.Read(jti)
		claims, _ := json.Marshal(map[string]any{"iss": "http://floor", "sub": id, "client_id": id, "aud": "http://floor",
			"iat": now, "exp": now + 1800, "jti": base64.RawURLEncoding.EncodeToString(jti), "scope": "inventory", "tenantid": "acme"})
		input := header + "." + base64.RawURLEncoding.EncodeToString(claims)
		digest := sha256.Sum256([]byte(input))
		rr, ss, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		sig := make([]byte, 64)
		rr.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"access_token": input + "." + base64.RawURLEncoding.EncodeToString(sig),
			"token_type": "Bearer", "expires_in": 1800, "scope": "inventory"})
	})
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(secret))
		if !ok || id != clientID || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		claims, ok := floorVerify(&key.PublicKey, r.PostForm.Get("token"))
		if !ok {
			w.Write([]byte(`{"active":false}`))
			return
		}
		claims["active"] = true
		claims["token_type"] = "Bearer"
		json.NewEncoder(w).Encode(claims)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, nil
}

// floorVerify checks an ES256 compact JWS the floor signed and decodes its
// claims; an expired token is not valid.
func floorVerify(pub *ecdsa.PublicKey, token string) (map[string]any, bool) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, false
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(sig) != 64 {
		return nil, false
	}
	digest := sha256.Sum256([]byte(token[:len(h)+1+len(p)]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, false
	}
	exp, _ := claims["exp"].(float64)
	if int64(exp) <= time.Now().Unix() {
		return nil, false
	}
	return claims, true
}
