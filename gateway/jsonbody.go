package gateway

import (
	"encoding/json"
	"strconv"
)

// The token answers are the hottest bodies the gateway writes, and their
// shape is fixed: they are appended by hand, byte for byte what
// encoding/json writes for tokenResponse and tssTokenResponse
// (jsonbody_test.go holds them to it).

// tokenBody is RFC 6749 §5.1's body for r.
func tokenBody(r tokenResponse) []byte {
	b := make([]byte, 0, 96+len(r.AccessToken)+len(r.RefreshToken)+len(r.Scope)+len(r.TokenType))
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = appendJSONString(b, r.RefreshToken)
	}
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, r.Scope)
	return append(b, '}')
}

// tssTokenBody is WSTSSAUTH's success body for r.
func tssTokenBody(r tssTokenResponse) []byte {
	b := make([]byte, 0, 80+len(r.AccessToken)+len(r.RefreshToken)+len(r.TokenType))
	b = append(b, `{"accesstoken":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"expiresIn":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	b = append(b, `,"refreshToken":`...)
	b = appendJSONString(b, r.RefreshToken)
	b = append(b, `,"tokenType":`...)
	b = appendJSONString(b, r.TokenType)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Tokens are printable ASCII
// that needs no escape and are copied as they are; anything else is left
// to encoding/json, so that the escapes are exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil { // a string always marshals
				panic(err)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
