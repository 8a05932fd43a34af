package observe

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
)

// TracingConfig turns OpenTelemetry tracing on. It is off unless an OTLP
// endpoint is given.
type TracingConfig struct {
	// OTLPEndpoint is the OTLP/gRPC collector, host:port (env
	// CHAVE_OTLP_ENDPOINT). Empty: tracing off.
	OTLPEndpoint string
	// Insecure sends spans without TLS (a collector on localhost or in the
	// pod).
	Insecure bool
	// SampleRatio is the fraction of new traces sampled (parent-based);
	// zero means DefaultSampleRatio.
	SampleRatio float64
	// Service names the process in traces, e.g. chave-registry.
	Service string
}

// DefaultSampleRatio is the fraction of new traces sampled when none is
// configured.
const DefaultSampleRatio = 0.1

// Tracing is a process's tracer provider and what instruments its servers
// and clients. The zero value (tracing off) adds nothing.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider
	prop     propagation.TextMapPropagator
}

// NewTracing starts exporting spans when cfg names an endpoint; otherwise
// it returns a Tracing that instruments nothing.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if cfg.OTLPEndpoint == "" {
		return &Tracing{provider: noop.NewTracerProvider()}, nil
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is outside [0, 1]", cfg.SampleRatio)
	}
	if cfg.SampleRatio == 0 {
		cfg.SampleRatio = DefaultSampleRatio
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint)}
	if cfg.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exporter, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(cfg.Service)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Tracing{
		provider: sdk, sdk: sdk,
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// ServerOptions instrument a gRPC server (none when tracing is off).
func (t *Tracing) ServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.prop)))}
}

// DialOptions instrument a gRPC client (none when tracing is off).
func (t *Tracing) DialOptions() []grpc.DialOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.prop)))}
}

// Tracer returns a tracer for spans a process makes itself, such as a
// call between two parts of one process that crosses no gRPC connection
// (a no-op when tracing is off).
func (t *Tracing) Tracer(name string) trace.Tracer {
	if !t.Enabled() {
		return noop.NewTracerProvider().Tracer(name)
	}
	return t.provider.Tracer(name)
}

// HTTPHandler instruments an HTTP handler (unchanged when tracing is off).
func (t *Tracing) HTTPHandler(h http.Handler, operation string) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, operation, otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.prop))
}

// Shutdown flushes pending spans.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}
