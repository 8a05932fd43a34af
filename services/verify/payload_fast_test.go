package verify

import (
	"encoding/json"
	"reflect"
	"testing"
)

var payloadBodies = []string{
	`{"iss":"https://auth.example.com","sub":"c1","aud":"api","exp":1767225600,"iat":1767223800,"jti":"J","client_id":"c1","scope":"a b","tenantid":"t","sid":"f","sv":"1"}`,
	`{"iss":"i","aud":["a","b"],"exp":1.5,"nbf":0,"iat":10.25}`,
	"{ \"iss\" : \"i\" ,\n\t\"aud\" : [ \"a\" ] }  ", `{}`, ` {} `,
	`{"iss":"i","iss":"j"}`, `{"ISS":"i"}`, `{"Iss":"i","iss":"j"}`, `{"other":1}`, `{"iss":null}`,
	`{"iss":"\u0069"}`, `{"iss":"ação"}`, `{"aud":[]}`, `{"aud":[1]}`, `{"aud":null}`, `{"aud":{}}`,
	`{"exp":-1}`, `{"exp":01}`, `{"exp":1e3}`, `{"exp":1.}`, `{"exp":253402300800}`, `{"exp":"1"}`,
	`{"exp":99999999999999999999999}`, `{"iss":"i",}`, `{"iss":"i"} x`, `{"iss":"i"`, `["iss"]`, `{"iss":"i"}{}`,
	"{\"iss\":\"a\tb\"}", `{"sv":"x\"y"}`, `{"exp":0.0000000001}`, `{"exp":1767225600.999999999}`,
}

func TestScannedPayloadIsWhatEncodingJSONReads(t *testing.T) {
	for _, body := range payloadBodies {
		checkPayloadScan(t, []byte(body))
	}
	var pl payload
	if !scanPayload([]byte(payloadBodies[0]), &pl) {
		t.Error("the scanner does not take the payload chave issues")
	}
}

func FuzzScannedPayload(f *testing.F) {
	for _, body := range payloadBodies {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkPayloadScan(t, []byte(body))
	})
}

// checkPayloadScan holds the scanner to encoding/json: what it takes,
// encoding/json takes too and reads the same; decodePayload answers as
// encoding/json does either way.
func checkPayloadScan(t *testing.T, body []byte) {
	t.Helper()
	var want payload
	wantErr := json.Unmarshal(body, &want)
	var scanned payload
	if scanPayload(body, &scanned) {
		if wantErr != nil {
			t.Fatalf("the scanner took %q, which encoding/json refuses: %v", body, wantErr)
		}
		if !reflect.DeepEqual(scanned, want) {
			t.Fatalf("the scanner read %q as %+v, encoding/json as %+v", body, scanned, want)
		}
	}
	var got payload
	err := decodePayload(body, &got)
	if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("decodePayload(%q) = %+v, %v; encoding/json: %+v, %v", body, got, err, want, wantErr)
	}
}

// BenchmarkDecodePayload compares the scanner with encoding/json on the
// claims chave issues.
func BenchmarkDecodePayload(b *testing.B) {
	body := []byte(payloadBodies[0])
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var pl payload
			if err := json.Unmarshal(body, &pl); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodePayload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var pl payload
			if err := decodePayload(body, &pl); err != nil {
				b.Fatal(err)
			}
		}
	})
}
