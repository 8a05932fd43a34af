package registry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// Server exposes the Service over gRPC. The caller comes from the context,
// put there by the authentication interceptor.
type Server struct {
	registryv1.UnimplementedRegistryServiceServer
	svc *Service
	log *slog.Logger
}

// NewServer returns the gRPC server of the registry.
func NewServer(svc *Service, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{svc: svc, log: log}
}

func (s *Server) caller(ctx context.Context) (Caller, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return Caller{}, chave.Errorf(chave.Unauthenticated, "no authenticated caller")
	}
	return c, nil
}

// CreateToken implements registryv1.RegistryServiceServer.
func (s *Server) CreateToken(ctx context.Context, req *registryv1.CreateTokenRequest) (*registryv1.CreateTokenResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	params, err := parametersFromProto(req.GetParameters())
	if err != nil {
		return nil, err
	}
	expire, err := requestTimeFromProto("expireTime", req.GetExpireTime())
	if err != nil {
		return nil, err
	}
	t, secret, err := s.svc.CreateToken(ctx, c, chave.Token{
		DisplayName: req.GetDisplayName(), Description: req.GetDescription(), Tenant: req.GetTenant(),
		ExpireTime: expire, GeneralAccess: req.GetGeneralAccess(),
		Contexts: req.GetContexts(), Parameters: params,
		IssueRefreshTokens: req.IssueRefreshTokens == nil || req.GetIssueRefreshTokens(),
	})
	if err != nil {
		return nil, err
	}
	return &registryv1.CreateTokenResponse{Token: s.tokenToProto(t), ClientId: t.ID, ClientSecret: secret.Reveal()}, nil
}

// GetToken implements registryv1.RegistryServiceServer.
func (s *Server) GetToken(ctx context.Context, req *registryv1.GetTokenRequest) (*registryv1.GetTokenResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.GetToken(ctx, c, req.GetId())
	if err != nil {
		return nil, err
	}
	return &registryv1.GetTokenResponse{Token: s.tokenToProto(t)}, nil
}

// ListTokens implements registryv1.RegistryServiceServer.
func (s *Server) ListTokens(ctx context.Context, req *registryv1.ListTokensRequest) (*registryv1.ListTokensResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	state, err := stateFromProto(req.GetState())
	if err != nil {
		return nil, err
	}
	expireBefore, err := requestTimeFromProto("expireBefore", req.GetExpireBefore())
	if err != nil {
		return nil, err
	}
	unusedSince, err := requestTimeFromProto("unusedSince", req.GetUnusedSince())
	if err != nil {
		return nil, err
	}
	tokens, next, err := s.svc.ListTokens(ctx, c, ListQuery{
		Tenant: req.GetTenant(), State: state, PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
		ExpireBefore: expireBefore, UnusedSince: unusedSince,
	})
	if err != nil {
		return nil, err
	}
	resp := &registryv1.ListTokensResponse{NextPageToken: next, Tokens: make([]*registryv1.Token, len(tokens))}
	for i, t := range tokens {
		resp.Tokens[i] = s.tokenToProto(t)
	}
	return resp, nil
}

// UpdateToken implements registryv1.RegistryServiceServer.
func (s *Server) UpdateToken(ctx context.Context, req *registryv1.UpdateTokenRequest) (*registryv1.UpdateTokenResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	pt := req.GetToken()
	if pt == nil {
		return nil, chave.InvalidField("token", "is required")
	}
	params, err := parametersFromProto(pt.GetParameters())
	if err != nil {
		return nil, err
	}
	expire, err := requestTimeFromProto("expireTime", pt.GetExpireTime())
	if err != nil {
		return nil, err
	}
	t, err := s.svc.UpdateToken(ctx, c, chave.Token{
		ID: pt.GetId(), DisplayName: pt.GetDisplayName(), Description: pt.GetDescription(),
		GeneralAccess: pt.GetGeneralAccess(), Contexts: pt.GetContexts(), Parameters: params,
		ExpireTime: expire, IssueRefreshTokens: pt.GetIssueRefreshTokens(),
	}, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &registryv1.UpdateTokenResponse{Token: s.tokenToProto(t)}, nil
}

// RevokeToken implements registryv1.RegistryServiceServer.
func (s *Server) RevokeToken(ctx context.Context, req *registryv1.RevokeTokenRequest) (*registryv1.RevokeTokenResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.RevokeToken(ctx, c, req.GetId())
	if err != nil {
		return nil, err
	}
	return &registryv1.RevokeTokenResponse{Token: s.tokenToProto(t)}, nil
}

// RotateToken implements registryv1.RegistryServiceServer.
func (s *Server) RotateToken(ctx context.Context, req *registryv1.RotateTokenRequest) (*registryv1.RotateTokenResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	previousExpire, err := requestTimeFromProto("previousSecretExpireTime", req.GetPreviousSecretExpireTime())
	if err != nil {
		return nil, err
	}
	t, secret, err := s.svc.RotateToken(ctx, c, req.GetId(), previousExpire)
	if err != nil {
		return nil, err
	}
	return &registryv1.RotateTokenResponse{Token: s.tokenToProto(t), ClientId: t.ID, ClientSecret: secret.Reveal()}, nil
}

// GetTokenUsage implements registryv1.RegistryServiceServer.
func (s *Server) GetTokenUsage(ctx context.Context, req *registryv1.GetTokenUsageRequest) (*registryv1.GetTokenUsageResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	days, err := s.svc.GetTokenUsage(ctx, c, req.GetId(), int(req.GetDays()))
	if err != nil {
		return nil, err
	}
	resp := &registryv1.GetTokenUsageResponse{Days: make([]*registryv1.UsageDay, len(days))}
	for i, d := range days {
		resp.Days[i] = &registryv1.UsageDay{Date: d.Day.Format(time.DateOnly), Succeeded: d.Succeeded, Failed: d.Failed}
	}
	return resp, nil
}

// ListTokenEvents implements registryv1.RegistryServiceServer.
func (s *Server) ListTokenEvents(ctx context.Context, req *registryv1.ListTokenEventsRequest) (*registryv1.ListTokenEventsResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	events, err := s.svc.ListTokenEvents(ctx, c, req.GetId())
	if err != nil {
		return nil, err
	}
	resp := &registryv1.ListTokenEventsResponse{Events: make([]*registryv1.TokenEvent, len(events))}
	for i, e := range events {
		resp.Events[i] = &registryv1.TokenEvent{Time: timeToProto(e.Time), Actor: e.Actor, Action: e.Action, Fields: e.Fields, Details: e.Details}
	}
	return resp, nil
}

// ListContexts implements registryv1.RegistryServiceServer.
func (s *Server) ListContexts(ctx context.Context, req *registryv1.ListContextsRequest) (*registryv1.ListContextsResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	contexts, err := s.svc.ListContexts(ctx, c, req.GetTenant())
	if err != nil {
		return nil, err
	}
	lang := preferredLanguage(ctx)
	resp := &registryv1.ListContextsResponse{Contexts: make([]*registryv1.Context, len(contexts))}
	for i, cx := range contexts {
		resp.Contexts[i] = contextToProto(cx, lang)
	}
	return resp, nil
}

// CreateTenant implements registryv1.RegistryServiceServer.
func (s *Server) CreateTenant(ctx context.Context, req *registryv1.CreateTenantRequest) (*registryv1.CreateTenantResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetTenant() == nil {
		return nil, chave.InvalidField("tenant", "is required")
	}
	in, err := tenantFromProto(req.GetTenant())
	if err != nil {
		return nil, err
	}
	t, err := s.svc.CreateTenant(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &registryv1.CreateTenantResponse{Tenant: tenantToProto(t)}, nil
}

// GetTenant implements registryv1.RegistryServiceServer.
func (s *Server) GetTenant(ctx context.Context, req *registryv1.GetTenantRequest) (*registryv1.GetTenantResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.svc.GetTenant(ctx, c, req.GetId())
	if err != nil {
		return nil, err
	}
	return &registryv1.GetTenantResponse{Tenant: tenantToProto(t)}, nil
}

// ListTenants implements registryv1.RegistryServiceServer.
func (s *Server) ListTenants(ctx context.Context, _ *registryv1.ListTenantsRequest) (*registryv1.ListTenantsResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	tenants, err := s.svc.ListTenants(ctx, c)
	if err != nil {
		return nil, err
	}
	resp := &registryv1.ListTenantsResponse{Tenants: make([]*registryv1.Tenant, len(tenants))}
	for i, t := range tenants {
		resp.Tenants[i] = tenantToProto(t)
	}
	return resp, nil
}

// UpdateTenant implements registryv1.RegistryServiceServer.
func (s *Server) UpdateTenant(ctx context.Context, req *registryv1.UpdateTenantRequest) (*registryv1.UpdateTenantResponse, error) {
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetTenant() == nil {
		return nil, chave.InvalidField("tenant", "is required")
	}
	patch, err := tenantFromProto(req.GetTenant())
	if err != nil {
		return nil, err
	}
	t, err := s.svc.UpdateTenant(ctx, c, patch, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &registryv1.UpdateTenantResponse{Tenant: tenantToProto(t)}, nil
}

// ---- conversions ----

// timeToProto answers a stored time; zero is "none". A time outside what a
// Timestamp can carry (a row written before the input rules) is clamped, so
// that reading it never fails.
func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(chave.ClampTime(t))
}

// requestTimeFromProto converts a time a request sets; absent is "none"
// (the zero time). A present one must pass the domain's rule, so that
// 0001-01-01 is a date in the past rather than "none".
func requestTimeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	return chave.TimeFromUnix(field, ts.GetSeconds(), ts.GetNanos())
}

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().UTC().Truncate(time.Microsecond)
}

func stateToProto(st chave.State) registryv1.TokenState {
	switch st {
	case chave.StateActive:
		return registryv1.TokenState_TOKEN_STATE_ACTIVE
	case chave.StateRevoked:
		return registryv1.TokenState_TOKEN_STATE_REVOKED
	case chave.StateExpired:
		return registryv1.TokenState_TOKEN_STATE_EXPIRED
	}
	return registryv1.TokenState_TOKEN_STATE_UNSPECIFIED
}

func stateFromProto(st registryv1.TokenState) (chave.State, error) {
	switch st {
	case registryv1.TokenState_TOKEN_STATE_UNSPECIFIED:
		return chave.StateUnspecified, nil
	case registryv1.TokenState_TOKEN_STATE_ACTIVE:
		return chave.StateActive, nil
	case registryv1.TokenState_TOKEN_STATE_REVOKED:
		return chave.StateRevoked, nil
	case registryv1.TokenState_TOKEN_STATE_EXPIRED:
		return chave.StateExpired, nil
	}
	return 0, chave.InvalidField("state", "unknown state %d", st)
}

func (s *Server) tokenToProto(t chave.Token) *registryv1.Token {
	now := s.svc.clock()
	var previousExpire time.Time
	if t.PreviousSecretPending(now) && t.State(now) == chave.StateActive {
		previousExpire = t.PreviousSecretExpireTime
	}
	return &registryv1.Token{
		Id: t.ID, DisplayName: t.DisplayName, Description: t.Description, Tenant: t.Tenant,
		State: stateToProto(t.State(now)), GeneralAccess: t.GeneralAccess, Contexts: t.Contexts,
		Parameters: parametersToProto(t.Parameters), CreateTime: timeToProto(t.CreateTime),
		ExpireTime: timeToProto(t.ExpireTime), RevokeTime: timeToProto(t.RevokeTime),
		LastUseTime: timeToProto(t.LastUseTime), Creator: t.Creator, Revoker: t.Revoker,
		IssueRefreshTokens: t.IssueRefreshTokens, PolicyViolations: t.PolicyViolations,
		PreviousSecretExpireTime: timeToProto(previousExpire),
	}
}

func parametersToProto(p chave.Parameters) map[string]*structpb.Struct {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]*structpb.Struct, len(p))
	for ctxID, values := range p {
		fields := make(map[string]*structpb.Value, len(values))
		for k, v := range values {
			fields[k] = structpb.NewStringValue(v)
		}
		out[ctxID] = &structpb.Struct{Fields: fields}
	}
	return out
}

// parametersFromProto accepts only string values, naming the offending one.
func parametersFromProto(in map[string]*structpb.Struct) (chave.Parameters, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(chave.Parameters, len(in))
	for ctxID, st := range in {
		values := make(map[string]string, len(st.GetFields()))
		for k, v := range st.GetFields() {
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return nil, chave.InvalidField(fmt.Sprintf("parameters.%s.%s", ctxID, k), "must be a string")
			}
			values[k] = sv.StringValue
		}
		out[ctxID] = values
	}
	return out, nil
}

func tenantToProto(t chave.Tenant) *registryv1.Tenant {
	out := &registryv1.Tenant{
		Id: t.ID, DisplayName: t.DisplayName, Contexts: t.Contexts,
		CreateTime: timeToProto(t.CreateTime), UpdateTime: timeToProto(t.UpdateTime),
		Policy: &registryv1.TenantPolicy{
			GrantableContexts: t.Policy.GrantableContexts, AllowedClientCidrs: t.Policy.AllowedClientCIDRs,
		},
	}
	if t.Policy.MaxTokenLifetime != 0 {
		out.Policy.MaxTokenLifetime = durationpb.New(t.Policy.MaxTokenLifetime)
	}
	return out
}

func tenantFromProto(t *registryv1.Tenant) (chave.Tenant, error) {
	out := chave.Tenant{ID: t.GetId(), DisplayName: t.GetDisplayName(), Contexts: t.GetContexts()}
	p := t.GetPolicy()
	out.Policy.GrantableContexts = p.GetGrantableContexts()
	out.Policy.AllowedClientCIDRs = p.GetAllowedClientCidrs()
	if d := p.GetMaxTokenLifetime(); d != nil {
		if err := d.CheckValid(); err != nil {
			return chave.Tenant{}, chave.InvalidField("policy.maxTokenLifetime", "is not a valid duration")
		}
		out.Policy.MaxTokenLifetime = d.AsDuration()
	}
	return out, nil
}

func contextToProto(c chave.Context, lang string) *registryv1.Context {
	out := &registryv1.Context{Id: c.ID, DisplayName: c.DisplayName(lang), DisplayNames: c.DisplayNames}
	for _, p := range c.Parameters {
		out.Parameters = append(out.Parameters, &registryv1.ContextParameter{
			Name: p.Name, Secret: p.Secret, AllowedValues: p.AllowedValues,
			Description: p.Description, Required: p.Required,
		})
	}
	return out
}
