package errorsv1

// This file is written by hand, next to the code generated from
// errors.proto: the string forms of the two enums and the reading of a
// status's ErrorInfo, so that no caller spells a reason or a domain.

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	reasonPrefix     = "REASON_"
	oauthErrorPrefix = "OAUTH_ERROR_"
)

// domain is the error_domain option of an enum.
func domain(e protoreflect.EnumDescriptor) string {
	d, _ := proto.GetExtension(e.Options(), E_ErrorDomain).(string)
	return d
}

// RegistryDomain is the ErrorInfo domain of the registry's errors, whose
// reasons are Reasons.
func RegistryDomain() string { return domain(Reason_REASON_UNSPECIFIED.Descriptor()) }

// OAuthDomain is the ErrorInfo domain of the auth service's errors, whose
// reasons are OAuth error codes.
func OAuthDomain() string { return domain(OauthError_OAUTH_ERROR_UNSPECIFIED.Descriptor()) }

// ErrorReason is the ErrorInfo reason of r ("INVALID_GRANT"); "" for
// REASON_UNSPECIFIED and values this build does not know.
func (r Reason) ErrorReason() string {
	name, ok := Reason_name[int32(r)]
	if !ok || r == Reason_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(name, reasonPrefix)
}

// ErrorInfo is the ErrorInfo detail carrying r in RegistryDomain.
func (r Reason) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: r.ErrorReason(), Domain: RegistryDomain()}
}

// ParseReason returns the Reason whose ErrorInfo reason is s, exactly as
// ErrorReason spells it; REASON_UNSPECIFIED for anything else.
func ParseReason(s string) Reason {
	if s == "" || s != strings.ToUpper(s) {
		return Reason_REASON_UNSPECIFIED
	}
	return Reason(Reason_value[reasonPrefix+s])
}

// ReasonOf returns the Reason that st's ErrorInfo in RegistryDomain names;
// REASON_UNSPECIFIED when there is none.
func ReasonOf(st *status.Status) Reason {
	if info := errorInfo(st, RegistryDomain()); info != nil {
		return ParseReason(info.GetReason())
	}
	return Reason_REASON_UNSPECIFIED
}

// Code is the OAuth 2.0 error code of e ("invalid_grant"); "" for
// OAUTH_ERROR_UNSPECIFIED and values this build does not know.
func (e OauthError) Code() string {
	name, ok := OauthError_name[int32(e)]
	if !ok || e == OauthError_OAUTH_ERROR_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, oauthErrorPrefix))
}

// ErrorInfo is the ErrorInfo detail carrying e in OAuthDomain.
func (e OauthError) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: e.Code(), Domain: OAuthDomain()}
}

// ParseOauthError returns the OauthError whose Code is code, exactly as
// Code spells it; OAUTH_ERROR_UNSPECIFIED for anything else.
func ParseOauthError(code string) OauthError {
	if code == "" || code != strings.ToLower(code) {
		return OauthError_OAUTH_ERROR_UNSPECIFIED
	}
	return OauthError(OauthError_value[oauthErrorPrefix+strings.ToUpper(code)])
}

// OauthErrorOf returns the OAuth error that st's ErrorInfo in OAuthDomain
// names; OAUTH_ERROR_UNSPECIFIED when there is none.
func OauthErrorOf(st *status.Status) OauthError {
	if info := errorInfo(st, OAuthDomain()); info != nil {
		return ParseOauthError(info.GetReason())
	}
	return OauthError_OAUTH_ERROR_UNSPECIFIED
}

// errorInfo is st's first ErrorInfo detail in domain, or nil.
func errorInfo(st *status.Status, domain string) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == domain {
			return info
		}
	}
	return nil
}
