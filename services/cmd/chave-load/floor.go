package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// floorServer is the stdlib-only floor that chave is measured against: one
// client-credentials grant's unavoidable work (parse the form and Basic
// credentials, a SHA-256 compare, one ES256 signature, JSON), nothing else.
// It runs in this process on loopback so that both sides are measured by
// the same client on the same machine.
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
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, nil
}
