package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// duplicateMemberByDecoder is what duplicateMember answered when it read
// the object with encoding/json's Decoder: the reference it is held to.
func duplicateMemberByDecoder(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		name, _ := tok.(string)
		if seen[strings.ToLower(name)] {
			return name, true
		}
		seen[strings.ToLower(name)] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

var duplicateMemberBodies = []string{
	`{}`, ` { } `, `{"grantType":1,"clientId":"c","clientSecret":"s"}`,
	`{"grantType":2,"refreshToken":"r","grantType":1}`,
	`{"grantType":1,"GRANTTYPE":2}`, `{"GrantType":1,"grantyType":1}`,
	`{"\u0067rantType":1,"grantType":2}`, `{"a\"b":1,"A\"B":2}`,
	`{"a":{"grantType":1},"grantType":[1,{"x":"}"}],"b":"\\","B":null}`,
	`{"a":"x,y}","b" : true , "c":false,"d":-1.5e3,"A":1}`,
	`{"K":1,"k":2}`, "{\"\u212a\":1,\"k\":2}", `{"ß":1,"SS":2}`, `{"İ":1,"i̇":2}`,
	`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"1":11}`,
	`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11}`,
	"{\"\xff\":1,\"\xff\":2}", "{\n\t\"x\"\r\n:\n1\n}",
}

func TestDuplicateMemberAgreesWithTheDecoder(t *testing.T) {
	for _, body := range duplicateMemberBodies {
		checkDuplicateMember(t, []byte(body))
	}
}

func FuzzDuplicateMember(f *testing.F) {
	for _, body := range duplicateMemberBodies {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkDuplicateMember(t, []byte(body))
	})
}

// checkDuplicateMember compares the two on a body parseTSSRequest would
// hand to duplicateMember: an object json.Unmarshal accepts.
func checkDuplicateMember(t *testing.T, body []byte) {
	t.Helper()
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return
	}
	gotName, got := duplicateMember(body)
	wantName, want := duplicateMemberByDecoder(body)
	if got != want || gotName != wantName {
		t.Fatalf("duplicateMember(%q) = %q, %v; the decoder says %q, %v", body, gotName, got, wantName, want)
	}
}
