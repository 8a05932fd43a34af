package revocation_test

import (
	"testing"

	"github.com/chave/chave/services/revocation"
)

// Only the in-process set tells verify it never waits.
func TestCheckerLocalOnlyForMemory(t *testing.T) {
	m := revocation.NewMemory(nil)
	defer m.Close()
	local, ok := revocation.Checker(m).(interface{ Local() bool })
	if !ok || !local.Local() {
		t.Fatal("the in-process set's checker does not say it is local")
	}
	type other struct{ revocation.Set }
	if local, ok := revocation.Checker(other{m}).(interface{ Local() bool }); ok && local.Local() {
		t.Fatal("a set that is not the in-process one says it is local")
	}
}
