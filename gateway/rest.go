package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
)

// maxRESTBody bounds a registry API request body.
const maxRESTBody = 1 << 20

// newREST returns the registry's JSON REST API (docs/spec.md §3.1), transcoded to
// gRPC by grpc-gateway.
func newREST(ctx context.Context, client registryv1.RegistryServiceClient, leaks registryv1.LeakServiceClient, log *slog.Logger) (http.Handler, error) {
	errs := &restErrors{log: log}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, strictJSON{newJSONMarshaler()}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(dropHeader),
		runtime.WithOutgoingTrailerMatcher(dropHeader),
		runtime.WithErrorHandler(errs.handle),
		runtime.WithRoutingErrorHandler(routingError),
		// X-HTTP-Method-Override would let a POST reach a GET (or any other)
		// handler, and the path length fallback sends a form-encoded POST
		// to the GET handler of the same path. Neither belongs in this API.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		runtime.WithMiddlewares(labelRESTRoute),
	)
	if err := registryv1.RegisterRegistryServiceHandlerClient(ctx, mux, client); err != nil {
		return nil, fmt.Errorf("registering registry routes: %w", err)
	}
	// POST /v1/leaks, public: the registry's interceptor admits it without
	// a credential.
	if err := registryv1.RegisterLeakServiceHandlerClient(ctx, mux, leaks); err != nil {
		return nil, fmt.Errorf("registering leak report routes: %w", err)
	}
	return guardREST(mux), nil
}

// newJSONMarshaler is protojson with lowerCamelCase names and default values
// emitted (unset messages such as timestamps stay absent); unknown fields in
// a request are an error, so a typo answers 400 instead of being ignored.
func newJSONMarshaler() *runtime.JSONPb {
	return &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false, EmitDefaultValues: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
}

// strictJSON is the REST marshaler: a request body is one JSON value and
// nothing after it but white space (json.Decoder alone stops after the
// first value, so `{…}xyz` or `{…}{…}` would be read as `{…}`), and a
// value that does not fit its field is an error that names the field.
type strictJSON struct{ *runtime.JSONPb }

var errTrailingData = errors.New("unexpected data after the JSON body")

// NewDecoder implements runtime.Marshaler.
func (m strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err // io.EOF for an empty body, which grpc-gateway accepts
		}
		if _, err := d.Token(); !errors.Is(err, io.EOF) {
			return errTrailingData
		}
		inner := runtime.DecoderWrapper{Decoder: json.NewDecoder(bytes.NewReader(raw)), UnmarshalOptions: m.UnmarshalOptions}
		if err := inner.Decode(v); err != nil {
			if field := m.offendingField(raw, v); field != "" {
				return fmt.Errorf("%s: %w", field, err)
			}
			return err
		}
		return nil
	})
}

// offendingField finds the member of a JSON object that the message v
// (a message, or a pointer to a message field) refuses, by decoding each
// member alone; "" when there is none to blame.
func (m strictJSON) offendingField(raw []byte, v any) string {
	var target proto.Message
	switch x := v.(type) {
	case proto.Message:
		target = x
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Pointer {
			return ""
		}
		msg, ok := reflect.New(rv.Elem().Type().Elem()).Interface().(proto.Message)
		if !ok {
			return ""
		}
		target = msg
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		one, err := json.Marshal(map[string]json.RawMessage{name: members[name]})
		if err != nil {
			continue
		}
		if m.UnmarshalOptions.Unmarshal(one, target.ProtoReflect().New().Interface()) != nil {
			return name
		}
	}
	return ""
}

// limitedBody is a request body cut at maxRESTBody that remembers being
// cut, so that the error handler can answer 413: grpc-gateway turns every
// body error into InvalidArgument.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.exceeded = true
	}
	return n, err
}

type limitedBodyKey struct{}

// bodyTooLarge reports whether the request's body went past maxRESTBody.
func bodyTooLarge(ctx context.Context) bool {
	b, ok := ctx.Value(limitedBodyKey{}).(*limitedBody)
	return ok && b.exceeded
}

var msgBodyTooLarge = fmt.Sprintf("the request body is larger than %d bytes", maxRESTBody)

// guardREST checks and trims a request before grpc-gateway sees it.
func guardREST(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Belt and braces: the mux is told to ignore it as well.
		r.Header.Del("X-HTTP-Method-Override")
		// Responses carry tenant data and, on create and rotate, a secret.
		w.Header().Set("Cache-Control", "no-store")
		if err := checkAuthorization(r.Header); err != nil {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, err.Error())
			return
		}
		if r.ContentLength > maxRESTBody {
			writeStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, msgBodyTooLarge)
			return
		}
		body := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxRESTBody)}
		r.Body = body
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), limitedBodyKey{}, body)))
	})
}

// checkAuthorization rejects what grpc-gateway would otherwise pass on
// silently: it forwards every Authorization value as "authorization"
// metadata, so two headers would reach the registry as two credentials, and
// it drops a value that is not printable ASCII, so the call would go on
// unauthenticated.
func checkAuthorization(h http.Header) error {
	vals := h.Values("Authorization")
	switch {
	case len(vals) > 1:
		return errors.New("more than one Authorization header")
	case len(vals) == 1 && !printableASCII(vals[0]):
		return errors.New("malformed Authorization header")
	}
	return nil
}

func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// incomingHeader names the request headers forwarded as gRPC metadata.
// Authorization is not among them because runtime.AnnotateContext already
// forwards it as "authorization" whatever the matcher says; matching it here
// too would send it twice. Grpc-Metadata-* headers are never forwarded, so a
// client cannot set authorization (or any other key) through them.
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "X-Request-Id":
		return "x-request-id", true
	case "Accept-Language":
		return "accept-language", true
	}
	return "", false
}

// dropHeader keeps the services' response metadata out of HTTP responses.
func dropHeader(string) (string, bool) { return "", false }

// labelRESTRoute names the matched grpc-gateway pattern in the metrics and
// the access log.
func labelRESTRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pat, ok := runtime.HTTPPattern(r.Context()); ok {
			setRoute(r.Context(), pat.String())
		}
		next(w, r, params)
	}
}

// routingError answers a request no pattern serves with its own HTTP
// status: grpc-gateway's default turns 405 into Unimplemented, hence 501.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusBadRequest:
		err = status.Error(codes.InvalidArgument, "bad request")
	case http.StatusNotFound:
		err = status.Error(codes.NotFound, "not found")
	case http.StatusMethodNotAllowed:
		err = status.Error(codes.Unimplemented, "method not allowed")
	default:
		err = status.Error(codes.Internal, "routing error")
	}
	runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// restErrors writes grpc-gateway's status body, {"code", "message",
// "details"}, with the matching HTTP status, after hiding what callers must
// not see.
type restErrors struct {
	log *slog.Logger
}

func (e *restErrors) handle(ctx context.Context, _ *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		httpStatus, err = hse.HTTPStatus, hse.Err
	}
	st := e.public(ctx, status.Convert(err))
	if bodyTooLarge(ctx) {
		httpStatus, st = http.StatusRequestEntityTooLarge, status.New(codes.InvalidArgument, msgBodyTooLarge)
	}
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(st.Code())
	}
	if st.Code() == codes.Unauthenticated {
		w.Header().Set("WWW-Authenticate", bearerChallenge(r))
	}
	body, merr := m.Marshal(st.Proto())
	if merr != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "marshalling error status",
			slog.String("request_id", requestID(ctx)), slog.String("error", merr.Error()))
		writeStatus(w, http.StatusInternalServerError, codes.Internal, "internal error")
		return
	}
	w.Header().Set("Content-Type", m.ContentType(st.Proto()))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body) // the client is gone; nothing to do
}

// public returns the status a caller may see: the message and details of an
// internal error, an unknown code or an unreachable service are replaced
// (and logged, since they are the only trace an operator gets).
func (e *restErrors) public(ctx context.Context, st *status.Status) *status.Status {
	switch code := st.Code(); {
	case code == codes.Unavailable:
		e.logCause(ctx, slog.LevelWarn, st)
		return status.New(codes.Unavailable, "service unavailable")
	case code == codes.DeadlineExceeded:
		e.logCause(ctx, slog.LevelWarn, st)
		return status.New(codes.DeadlineExceeded, "deadline exceeded")
	case code == codes.Canceled:
		return status.New(codes.Canceled, "request canceled")
	case code == codes.OK, code == codes.Unknown, code == codes.Internal, code == codes.DataLoss,
		code > codes.Unauthenticated:
		e.logCause(ctx, slog.LevelError, st)
		return status.New(codes.Internal, "internal error")
	}
	return st
}

func (e *restErrors) logCause(ctx context.Context, level slog.Level, st *status.Status) {
	e.log.LogAttrs(ctx, level, "registry call failed",
		slog.String("request_id", requestID(ctx)),
		slog.String("code", st.Code().String()),
		slog.String("error", st.Message()))
}

// bearerChallenge is RFC 6750 §3's WWW-Authenticate value; error is named
// only when the request carried a token.
func bearerChallenge(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return `Bearer realm="chave", error="invalid_token"`
	}
	return `Bearer realm="chave"`
}

// writeStatus writes a google.rpc.Status body, the shape grpc-gateway uses
// for errors, for the endpoints that are not transcoded.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	body, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(status.New(code, msg).Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error","details":[]}`)
		httpStatus = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body) // the client is gone; nothing to do
}
