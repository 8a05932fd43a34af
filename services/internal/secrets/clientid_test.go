package secrets

import (
	"strings"
	"testing"
)

func TestLoggableClientID(t *testing.T) {
	id, err := NewClientID()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if got := LoggableClientID(id); got != id {
		t.Errorf("LoggableClientID(%q) = %q, want the id", id, got)
	}
	for _, s := range []string{secret.Reveal(), "", "client-1", id + "x", id[:len(id)-1], strings.Replace(id, "ci_", "sk_", 1), id[:len(id)-1] + "-"} {
		got := LoggableClientID(s)
		if s != "" && strings.Contains(got, s) || !strings.Contains(got, "not a client id") {
			t.Errorf("LoggableClientID(%q) = %q", s, got)
		}
	}
}
