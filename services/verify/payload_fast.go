package verify

import (
	"encoding/json"
	"math"
	"strconv"
)

// decodePayload decodes a verified token's claims. Tokens as chave's
// issuer writes them (a flat object of the claims payload names, exactly
// spelt and each once, ASCII strings without escapes, whole or decimal
// numbers, aud a string or a non-empty array of such strings) are read by
// a scanner that takes nothing else; any other payload, valid or not, goes
// to encoding/json, which decides. The scanner answers only what
// encoding/json would (payload_fast_test.go fuzzes the two against each
// other).
func decodePayload(data []byte, pl *payload) error {
	if scanPayload(data, pl) {
		return nil
	}
	*pl = payload{}
	return json.Unmarshal(data, pl)
}

// scanPayload fills pl from data and reports true, or reports false (pl
// then holds garbage) for anything outside the shape decodePayload names.
func scanPayload(data []byte, pl *payload) bool {
	// One copy of the payload, which the claims' strings share.
	s := payloadScanner{b: data, text: string(data), dates: new([3]numericDate)}
	if !s.byte('{') {
		return false
	}
	var seen uint16
	if s.peek() == '}' {
		s.i++
		return s.end()
	}
	for {
		name, ok := s.raw()
		if !ok || !s.byte(':') {
			return false
		}
		bit, ok := payloadMember(name)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch string(name) {
		case "iss":
			pl.Iss, ok = s.str()
		case "sub":
			pl.Sub, ok = s.str()
		case "client_id":
			pl.ClientID, ok = s.str()
		case "jti":
			pl.Jti, ok = s.str()
		case "scope":
			pl.Scope, ok = s.str()
		case "tenantid":
			pl.TenantID, ok = s.str()
		case "sid":
			pl.Sid, ok = s.str()
		case "sv":
			pl.Sv, ok = s.str()
		case "aud":
			pl.Aud, ok = s.aud()
		case "exp":
			pl.Exp, ok = s.date(&s.dates[0])
		case "nbf":
			pl.Nbf, ok = s.date(&s.dates[1])
		case "iat":
			pl.Iat, ok = s.date(&s.dates[2])
		}
		if !ok {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return s.end()
		default:
			return false
		}
	}
}

// payloadMember is the bit of a payload member name.
func payloadMember(name []byte) (uint16, bool) {
	for i, n := range [...]string{"iss", "sub", "client_id", "aud", "exp", "nbf", "iat", "jti", "scope", "tenantid", "sid", "sv"} {
		if n == string(name) {
			return 1 << i, true
		}
	}
	return 0, false
}

type payloadScanner struct {
	b     []byte
	text  string // b as a string
	i     int
	dates *[3]numericDate
}

func (s *payloadScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next byte past white space, or 0 at the end.
func (s *payloadScanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *payloadScanner) byte(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// end reports whether nothing but white space is left.
func (s *payloadScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string of printable ASCII without escapes.
func (s *payloadScanner) str() (string, bool) {
	v, ok := s.raw()
	if !ok {
		return "", false
	}
	end := s.i - 1 // the closing quote
	return s.text[end-len(v) : end], true
}

// raw reads what str does, without copying it.
func (s *payloadScanner) raw() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// aud reads a string or a non-empty array of strings.
func (s *payloadScanner) aud() (audience, bool) {
	if s.peek() == '"' {
		v, ok := s.str()
		return audience{v}, ok
	}
	if !s.byte('[') {
		return nil, false
	}
	var list []string
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		list = append(list, v)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return list, true
		default:
			return nil, false
		}
	}
}

// date reads a NumericDate written as digits, without a leading zero,
// with an optional fraction; the range checks are numericDate's.
func (s *payloadScanner) date(d *numericDate) (*numericDate, bool) {
	s.space()
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	n := digits()
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return nil, false
	}
	if s.i == len(s.b) || s.b[s.i] != '.' {
		// Whole seconds, below maxNumericDate (12 digits): exactly what
		// strconv.ParseFloat would give, without it.
		if n > 12 {
			return nil, false
		}
		var sec int64
		for _, c := range s.b[start:s.i] {
			sec = sec*10 + int64(c-'0')
		}
		if sec >= maxNumericDate {
			return nil, false
		}
		*d = numericDate{sec: sec}
		return d, true
	}
	s.i++
	if digits() == 0 {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= maxNumericDate {
		return nil, false
	}
	sec, frac := math.Modf(f)
	*d = numericDate{sec: int64(sec), nsec: int64(frac * 1e9)}
	return d, true
}
