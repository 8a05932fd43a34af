package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/throttle"
)

// ClientAddressMetadata is the gRPC metadata key in which the gateway
// passes the address of the HTTP client it serves (the peer, or the
// client named by a trusted proxy's X-Forwarded-For). The auth service
// believes it only from the gateway: see SourceInterceptor.
const ClientAddressMetadata = "x-chave-client-address"

// attemptSource is where a call to the auth service comes from.
type attemptSource struct {
	address  string // an IP address, or empty when unknown
	endpoint string // token, revoke, introspect
}

type sourceKey struct{}

// InProcessNetwork is the network of the connections the all-in-one
// server opens to its own gRPC server (grpc/test/bufconn's, and the peer
// its direct calls to itself name): only code of the same process can
// open them.
const InProcessNetwork = "bufconn"

// SourceInterceptor records where each call to the auth service comes
// from, for the throttling of failed client authentications. A call with
// no network peer, or over InProcessNetwork, is in process, from the
// gateway of `chave serve`, and its ClientAddressMetadata is believed; so is a networked call's when
// trustForwarded is set (the auth service apart, whose port only the
// gateway reaches). Any other call counts from its peer's address, so that
// a direct gRPC client cannot pick the address it is counted under.
func SourceInterceptor(trustForwarded bool) grpc.UnaryServerInterceptor {
	service := "/" + authv1.AuthService_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		method, ok := strings.CutPrefix(info.FullMethod, service)
		if !ok {
			return handler(ctx, req)
		}
		src := attemptSource{address: sourceAddress(ctx, trustForwarded), endpoint: endpointName(method)}
		return handler(context.WithValue(ctx, sourceKey{}, src), req)
	}
}

// endpointName is the metrics label of an auth service method.
func endpointName(method string) string {
	switch method {
	case "Token":
		return "token"
	case "RevokeToken":
		return "revoke"
	case "IntrospectToken":
		return "introspect"
	}
	return "other"
}

// sourceAddress is the address a call is counted under.
func sourceAddress(ctx context.Context, trustForwarded bool) string {
	p, networked := peer.FromContext(ctx)
	networked = networked && (p.Addr == nil || p.Addr.Network() != InProcessNetwork)
	if !networked || trustForwarded {
		// The one key, without copying the whole metadata.
		if v := metadata.ValueFromIncomingContext(ctx, ClientAddressMetadata); len(v) == 1 {
			if ip, err := netip.ParseAddr(v[0]); err == nil {
				return ip.Unmap().String()
			}
		}
	}
	if networked && p.Addr != nil {
		if ap, err := netip.ParseAddrPort(p.Addr.String()); err == nil {
			return ap.Addr().Unmap().String()
		}
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
	}
	return ""
}

// ClientAddress is the address of the client a call to the auth service
// serves (SourceInterceptor's; empty when unknown): what the registry's
// grant address check needs.
func ClientAddress(ctx context.Context) string { return sourceOf(ctx).address }

// sourceOf returns the recorded source of the call, or, without
// SourceInterceptor, its peer's address.
func sourceOf(ctx context.Context) attemptSource {
	if src, ok := ctx.Value(sourceKey{}).(attemptSource); ok {
		return src
	}
	return attemptSource{address: sourceAddress(ctx, false), endpoint: "other"}
}

// ThrottleOptions configure NewThrottledRegistry.
type ThrottleOptions struct {
	// Logger hears of store failures (warn) and each refusal (debug).
	Logger *slog.Logger
	// Registerer receives chave_auth_throttled_total; nil: not exported.
	Registerer prometheus.Registerer
}

// NewThrottledRegistry returns reg with its client authentications
// throttled by limiter: each call that authenticates a client is checked
// before it reaches reg (a refused attempt costs no secret check and no
// registry call, and fails with chave.ResourceExhausted, which the server
// answers as ResourceExhausted with a RetryInfo: 429 and Retry-After at the
// gateway); a refused credential (chave.Unauthenticated) counts a failure,
// an accepted one a success. The source address comes from
// SourceInterceptor.
func NewThrottledRegistry(reg Registry, limiter *throttle.Limiter, opts ThrottleOptions) (Registry, error) {
	if reg == nil || limiter == nil {
		return nil, errors.New("auth: throttle: a registry and a limiter are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chave_auth_throttled_total",
		Help: "Client authentications refused for too many failures, by endpoint and by the limit that refused them (pair, address, client).",
	}, []string{"endpoint", "limit"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(refused); err != nil {
			return nil, fmt.Errorf("auth: metrics: %w", err)
		}
	}
	return throttledRegistry{Registry: reg, g: &guard{limiter: limiter, log: opts.Logger, refused: refused}}, nil
}

// throttledRegistry overrides the Registry methods that authenticate a
// client; anything else passes through.
type throttledRegistry struct {
	Registry
	g *guard
}

func (r throttledRegistry) AuthenticateClient(ctx context.Context, clientID, secret string) (Client, error) {
	return guarded(ctx, r.g, clientID, func() (Client, error) {
		return r.Registry.AuthenticateClient(ctx, clientID, secret)
	})
}

func (r throttledRegistry) UseRefreshToken(ctx context.Context, clientID, secret, familyID string, generation int64, familyExpiry time.Time) (Client, error) {
	return guarded(ctx, r.g, clientID, func() (Client, error) {
		return r.Registry.UseRefreshToken(ctx, clientID, secret, familyID, generation, familyExpiry)
	})
}

func (r throttledRegistry) RevokeIssuedToken(ctx context.Context, clientID, secret string, tok IssuedToken) error {
	_, err := guarded(ctx, r.g, clientID, func() (struct{}, error) {
		return struct{}{}, r.Registry.RevokeIssuedToken(ctx, clientID, secret, tok)
	})
	return err
}

func (r throttledRegistry) CheckIssuedToken(ctx context.Context, caller ClientCredentials, clientID string, tok IssuedToken) (IssuedTokenState, error) {
	call := func() (IssuedTokenState, error) { return r.Registry.CheckIssuedToken(ctx, caller, clientID, tok) }
	if caller.ID == "" {
		return call() // no client authenticates
	}
	return guarded(ctx, r.g, caller.ID, call)
}

// guard applies the limiter around calls.
type guard struct {
	limiter *throttle.Limiter
	log     *slog.Logger
	refused *prometheus.CounterVec
}

// guarded checks the attempt, makes the call if allowed, and counts its
// outcome: a refused credential is a failure; success, or a refusal that
// came after the credential was accepted (another client's token), is a
// success; anything else (an unreachable registry, a spent refresh token)
// counts nothing.
//
// An attempt of a pair that just succeeded skips the check
// (throttle.Limiter.Recent: the shared store is read once a second for a
// client that keeps succeeding); if it fails, it is checked then, before
// the answer, and refused if its pair went over a limit meanwhile (on
// another replica), so that it answers as if checked first.
func guarded[T any](ctx context.Context, g *guard, clientID string, call func() (T, error)) (T, error) {
	var zero T
	src := sourceOf(ctx)
	a := throttle.Attempt{ClientID: clientID, Address: src.address}
	d, recent := g.limiter.Recent(a)
	if !recent {
		var err error
		if d, err = g.check(ctx, a); err != nil {
			return zero, err
		}
		if !d.Allowed {
			return zero, g.refuse(ctx, src, clientID, d)
		}
	}
	v, err := call()
	var record error
	switch chave.ErrorCode(err) {
	case "", chave.PermissionDenied:
		record = g.limiter.Succeeded(ctx, d)
	case chave.Unauthenticated:
		if recent {
			g.limiter.Forget(a)
			if ctx.Err() != nil {
				break
			}
			var cerr error
			if d, cerr = g.check(ctx, a); cerr != nil {
				return zero, cerr
			}
			if !d.Allowed {
				return zero, g.refuse(ctx, src, clientID, d)
			}
		}
		if ctx.Err() == nil {
			record = g.limiter.Failed(ctx, d)
		}
	}
	if record != nil {
		g.log.WarnContext(ctx, "throttle: could not record a client authentication", "err", record)
	}
	return v, err
}

// check asks the limiter about the attempt.
func (g *guard) check(ctx context.Context, a throttle.Attempt) (throttle.Decision, error) {
	d, err := g.limiter.Check(ctx, a)
	if err != nil {
		return d, &chave.Error{Code: chave.Unavailable, Message: "client authentication cannot be checked now", Err: err}
	}
	return d, nil
}

// refuse counts and logs a refused attempt and returns its error.
func (g *guard) refuse(ctx context.Context, src attemptSource, clientID string, d throttle.Decision) error {
	g.refused.WithLabelValues(src.endpoint, string(d.Limit)).Inc()
	if g.log.Enabled(ctx, slog.LevelDebug) {
		g.log.DebugContext(ctx, "client authentication throttled", slog.String("client_id", loggableClientID(clientID)),
			slog.String("address", src.address), slog.String("limit", string(d.Limit)), slog.Duration("retry_after", d.RetryAfter))
	}
	return &chave.Error{
		Code: chave.ResourceExhausted, Message: "too many failed client authentications; retry later",
		Err: &throttledError{retryAfter: d.RetryAfter, limit: d.Limit},
	}
}

// loggableClientID is the client id for the logs when it has chave's form,
// so that a secret sent as the client id is never logged.
func loggableClientID(id string) string {
	if strings.HasPrefix(id, "chave_ci_") && len(id) <= 64 {
		return id
	}
	return "(not a chave client id)"
}

// throttledError is the cause of a throttled client authentication.
type throttledError struct {
	retryAfter time.Duration
	limit      throttle.Limit
}

func (e *throttledError) Error() string {
	return "client authentication throttled by the " + string(e.limit) + " limit"
}

// retrySeconds is the wait to announce: whole seconds, rounded up, at
// least one.
func (e *throttledError) retrySeconds() int64 {
	return max(int64((e.retryAfter+time.Second-1)/time.Second), 1)
}

// status is the gRPC status of a throttled call: ResourceExhausted, with
// an ErrorInfo of the OAuth code slow_down (RFC 8628 §3.5: back off and
// retry later; HTTP 429 with Retry-After at the gateway) and a RetryInfo.
func (e *throttledError) status() error {
	secs := e.retrySeconds()
	msg := "too many failed client authentications; retry after " + strconv.FormatInt(secs, 10) + " seconds"
	st, err := status.New(codes.ResourceExhausted, msg).WithDetails(
		&errdetails.ErrorInfo{
			Reason: errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN.Code(), Domain: errorsv1.OAuthDomain(),
			Metadata: map[string]string{"retry_after": strconv.FormatInt(secs, 10)},
		},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)},
	)
	if err != nil {
		return status.Error(codes.ResourceExhausted, msg)
	}
	return st.Err()
}
