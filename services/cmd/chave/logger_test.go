package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/chave/chave/services/internal/secrets"
)

// TestLoggerRedactsSecrets: the logger every command builds hides a client
// secret whatever carries it.
func TestLoggerRedactsSecrets(t *testing.T) {
	s, err := secrets.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	newLogger(&buf, slog.LevelInfo).Info("client "+s.Reveal(), "client_id", s.Reveal())
	if out := buf.String(); strings.Contains(out, s.Reveal()[len(secrets.SecretPrefix):]) || !strings.Contains(out, "chave_sk_[REDACTED]") {
		t.Errorf("log line: %s", out)
	}
}
