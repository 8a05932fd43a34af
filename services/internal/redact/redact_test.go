package redact

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://chave:s3cret@db:5432/chave?sslmode=require", "postgres://chave:xxxxx@db:5432/chave?sslmode=require"},
		{"redis://:s3cret@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		// Reserved characters in the password do not leak any of it.
		{"postgres://u:pa/ss@db/chave", "postgres://u:xxxxx@db/chave"},
		{"postgres://u:pa#ss@db/chave", "postgres://u:xxxxx@db/chave"},
		{"postgres://u:p@ss@db/chave", "postgres://u:xxxxx@db/chave"},
		{"postgres://u:p?ss@db/chave", "postgres://u:xxxxx@db/chave"},
		// Nothing to hide.
		{"postgres://chave@db/chave", "postgres://chave@db/chave"},
		{"https://chave.example/.well-known/jwks.json", "https://chave.example/.well-known/jwks.json"},
		{"sqlite://chave-data/chave.db", "sqlite://chave-data/chave.db"},
		{"mysql", "mysql"},
		{"", ""},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURLError(t *testing.T) {
	//lint:ignore SA1007 an invalid escape, so that url.Parse fails naming the URL
	_, err := url.Parse("redis://:s3cret@redis:6379/%zz")
	if err == nil || !strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("url.Parse: %v, want an error naming the URL", err)
	}
	if got := URLError(err); strings.Contains(got.Error(), "s3cret") {
		t.Errorf("URLError kept the URL: %v", got)
	}
	plain := errors.New("plain")
	if URLError(plain) != plain {
		t.Error("URLError changed an error that is not a *url.Error")
	}
}
