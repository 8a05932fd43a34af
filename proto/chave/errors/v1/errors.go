package errorsv1

// This file is written by hand, next to the code generated from
// errors.proto: the wire spellings of the enums, their ErrorInfo details,
// and the reading of a status's ErrorInfo, so that no caller spells a
// reason or a domain.

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// enum is what every enum of this file shares.
type enum interface {
	~int32
	protoreflect.Enum
}

// domainOf is the error_domain option of e's enum.
func domainOf(e protoreflect.Enum) string {
	d, _ := proto.GetExtension(e.Descriptor().Options(), E_ErrorDomain).(string)
	return d
}

// prefixOf is the prefix every value name of e's enum carries: the name of
// its zero value less UNSPECIFIED ("REASON_").
func prefixOf(e protoreflect.Enum) string {
	zero := e.Descriptor().Values().ByNumber(0)
	return strings.TrimSuffix(string(zero.Name()), "UNSPECIFIED")
}

// wireName is e's name without its enum's prefix ("INVALID_GRANT"), "" for
// the zero value and values this build does not know.
func wireName(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil || e.Number() == 0 {
		return ""
	}
	return strings.TrimPrefix(string(v.Name()), prefixOf(e))
}

// parseWireName returns the value of T whose wireName is name; the zero
// value for anything else.
func parseWireName[T enum](name string) T {
	var zero T
	if name == "" {
		return zero
	}
	v := zero.Descriptor().Values().ByName(protoreflect.Name(prefixOf(zero) + name))
	if v == nil {
		return zero
	}
	return T(v.Number())
}

// reasonIn returns the value of T that st's ErrorInfo in T's domain names,
// read with parse; the zero value when there is none.
func reasonIn[T enum](st *status.Status, parse func(string) T) T {
	var zero T
	domain := domainOf(zero)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == domain {
			return parse(info.GetReason())
		}
	}
	return zero
}

// RegistryDomain is the ErrorInfo domain of the registry's errors, whose
// reasons are Reasons.
func RegistryDomain() string { return domainOf(Reason_REASON_UNSPECIFIED) }

// OAuthDomain is the ErrorInfo domain of the auth service's errors, whose
// reasons are OAuth error codes.
func OAuthDomain() string { return domainOf(OauthError_OAUTH_ERROR_UNSPECIFIED) }

// VerifyDomain is the ErrorInfo domain of VerifyToken's refusals, whose
// reasons are TokenRejections.
func VerifyDomain() string { return domainOf(TokenRejection_TOKEN_REJECTION_UNSPECIFIED) }

// ErrorReason is the ErrorInfo reason of r ("INVALID_GRANT"); "" for
// REASON_UNSPECIFIED and values this build does not know.
func (r Reason) ErrorReason() string { return wireName(r) }

// ErrorInfo is the ErrorInfo detail carrying r in RegistryDomain.
func (r Reason) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: r.ErrorReason(), Domain: RegistryDomain()}
}

// ParseReason returns the Reason whose ErrorInfo reason is s, exactly as
// ErrorReason spells it; REASON_UNSPECIFIED for anything else.
func ParseReason(s string) Reason { return parseWireName[Reason](s) }

// ReasonOf returns the Reason that st's ErrorInfo in RegistryDomain names;
// REASON_UNSPECIFIED when there is none.
func ReasonOf(st *status.Status) Reason { return reasonIn(st, ParseReason) }

// Code is the OAuth 2.0 error code of e ("invalid_grant"); "" for
// OAUTH_ERROR_UNSPECIFIED and values this build does not know.
func (e OauthError) Code() string { return strings.ToLower(wireName(e)) }

// ErrorInfo is the ErrorInfo detail carrying e in OAuthDomain.
func (e OauthError) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: e.Code(), Domain: OAuthDomain()}
}

// ParseOauthError returns the OauthError whose Code is code, exactly as
// Code spells it; OAUTH_ERROR_UNSPECIFIED for anything else.
func ParseOauthError(code string) OauthError {
	if code != strings.ToLower(code) {
		return OauthError_OAUTH_ERROR_UNSPECIFIED
	}
	return parseWireName[OauthError](strings.ToUpper(code))
}

// OauthErrorOf returns the OAuth error that st's ErrorInfo in OAuthDomain
// names; OAUTH_ERROR_UNSPECIFIED when there is none.
func OauthErrorOf(st *status.Status) OauthError { return reasonIn(st, ParseOauthError) }

// ErrorReason is the ErrorInfo reason of r ("EXPIRED"); "" for
// TOKEN_REJECTION_UNSPECIFIED and values this build does not know.
func (r TokenRejection) ErrorReason() string { return wireName(r) }

// ErrorInfo is the ErrorInfo detail carrying r in VerifyDomain.
func (r TokenRejection) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: r.ErrorReason(), Domain: VerifyDomain()}
}

// ParseTokenRejection returns the TokenRejection whose ErrorInfo reason is
// s, exactly as ErrorReason spells it; TOKEN_REJECTION_UNSPECIFIED for
// anything else.
func ParseTokenRejection(s string) TokenRejection { return parseWireName[TokenRejection](s) }

// TokenRejectionOf returns the TokenRejection that st's ErrorInfo in
// VerifyDomain names; TOKEN_REJECTION_UNSPECIFIED when there is none.
func TokenRejectionOf(st *status.Status) TokenRejection {
	return reasonIn(st, ParseTokenRejection)
}
