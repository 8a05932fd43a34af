package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

// The bounds of a leak report.
const (
	MaxLeakSecrets   = 100
	MaxLeakSourceLen = 64
	MaxLeakURLLen    = 2048
)

// RateLimiter is what the leak service asks of a rate limit per source
// (throttle.Rate).
type RateLimiter interface {
	Allow(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error)
}

// LeakServer exposes ReportLeakedSecrets as chave.registry.v1.LeakService:
// public (AuthInterceptor lets its calls through without a credential),
// bounded and rate-limited per source.
type LeakServer struct {
	registryv1.UnimplementedLeakServiceServer
	svc  *Service
	rate RateLimiter
	log  *slog.Logger
}

// NewLeakServer returns the leak service; rate limits the reports of each
// source and is required.
func NewLeakServer(svc *Service, rate RateLimiter, log *slog.Logger) (*LeakServer, error) {
	if svc == nil || rate == nil {
		return nil, fmt.Errorf("registry: the leak service needs the registry and a rate limit")
	}
	if log == nil {
		log = slog.Default()
	}
	return &LeakServer{svc: svc, rate: rate, log: log}, nil
}

// ReportLeaks implements registryv1.LeakServiceServer.
func (s *LeakServer) ReportLeaks(ctx context.Context, req *registryv1.ReportLeaksRequest) (*registryv1.ReportLeaksResponse, error) {
	report, err := checkLeakReport(req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	allowed, retry, err := s.rate.Allow(ctx, report.Source)
	if err != nil {
		return nil, toStatus(ctx, s.log, &chave.Error{Code: chave.Unavailable, Message: "leak reports cannot be counted right now; retry later", Err: err})
	}
	if !allowed {
		s.svc.metrics.leaks.WithLabelValues(leakLimited).Add(float64(len(req.GetSecrets())))
		s.log.WarnContext(ctx, "leak report refused: too many from its source", "source", report.Source)
		return nil, rateLimited(retry)
	}
	revoked, err := s.svc.ReportLeakedSecrets(ctx, req.GetSecrets(), report)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &registryv1.ReportLeaksResponse{Results: make([]*registryv1.LeakResult, len(revoked))}
	n := 0
	for i, r := range revoked {
		resp.Results[i] = &registryv1.LeakResult{Revoked: r}
		if r {
			n++
		}
	}
	s.svc.metrics.leaks.WithLabelValues(leakRevoked).Add(float64(n))
	s.svc.metrics.leaks.WithLabelValues(leakNotSecret).Add(float64(len(revoked) - n))
	s.log.InfoContext(ctx, "leak report", "source", report.Source, "url", report.URL, "strings", len(revoked), "revoked", n)
	return resp, nil
}

// checkLeakReport bounds a report before anything reads the database:
// errors name the field.
func checkLeakReport(req *registryv1.ReportLeaksRequest) (LeakReport, error) {
	switch n := len(req.GetSecrets()); {
	case n == 0:
		return LeakReport{}, chave.InvalidField("secrets", "is required: list the strings found")
	case n > MaxLeakSecrets:
		return LeakReport{}, chave.InvalidField("secrets", "must hold at most %d strings (got %d)", MaxLeakSecrets, n)
	}
	for i, sec := range req.GetSecrets() {
		if len(sec) > secrets.SecretLen {
			return LeakReport{}, chave.InvalidField(fmt.Sprintf("secrets[%d]", i), "is longer than a chave secret (%d characters)", secrets.SecretLen)
		}
	}
	source := req.GetSource()
	switch {
	case source == "":
		return LeakReport{}, chave.InvalidField("source", "is required: name the scanner or person reporting")
	case len(source) > MaxLeakSourceLen:
		return LeakReport{}, chave.InvalidField("source", "must be at most %d characters", MaxLeakSourceLen)
	}
	for _, c := range source {
		if !(c == '.' || c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return LeakReport{}, chave.InvalidField("source", "may hold only letters, digits and \"._-\"")
		}
	}
	raw := req.GetUrl()
	if raw == "" {
		return LeakReport{Source: source}, nil
	}
	if len(raw) > MaxLeakURLLen {
		return LeakReport{}, chave.InvalidField("url", "must be at most %d characters", MaxLeakURLLen)
	}
	if err := chave.CheckLine("url", raw); err != nil {
		return LeakReport{}, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(raw, " \t") {
		return LeakReport{}, chave.InvalidField("url", "must be an http or https URL")
	}
	return LeakReport{Source: source, URL: raw}, nil
}

// rateLimited answers a report over its source's limit: ResourceExhausted
// with a RetryInfo.
func rateLimited(retry time.Duration) error {
	secs := max(int64((retry+time.Second-1)/time.Second), 1)
	msg := "too many leak reports from this source; retry after " + strconv.FormatInt(secs, 10) + " seconds"
	st, err := status.New(codes.ResourceExhausted, msg).WithDetails(
		errorsv1.Reason_REASON_RESOURCE_EXHAUSTED.ErrorInfo(),
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)},
	)
	if err != nil {
		return status.Error(codes.ResourceExhausted, msg)
	}
	return st.Err()
}
