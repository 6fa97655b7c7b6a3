// otlpbench: the sink and the load generator of Sonde's export benchmark (bench:export).
//
//	otlpbench sink -grpc 127.0.0.1:PORT -http 127.0.0.1:PORT
//	    An OTLP/gRPC server (traces, metrics; gzip accepted) that decodes every request and counts
//	    spans and data points; GET /count on the HTTP address answers {"spans":N,"points":N,...}.
//	otlpbench load -target 127.0.0.1:PORT -signal traces|metrics -items N -concurrency C
//	    -duration D -max-requests M
//	    Sends one pre-encoded request (N spans or data points) over and over from C concurrent
//	    callers, uncompressed, until D elapses or M requests were sent; prints one JSON line with
//	    what was sent and its own CPU time, so a run can show the generator was not the bottleneck.
//	otlpbench http -url http://127.0.0.1:PORT/ -rate R -connections C -duration D -max-requests M
//	    Fixed-rate HTTP/1.1 keep-alive GET load (what wrk cannot do): R requests/s spread over C
//	    connections until D elapses or M requests were sent; prints one JSON line with the count,
//	    the achieved rate and latency percentiles.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // the exporters under test compress with gzip by default
	"google.golang.org/protobuf/proto"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: otlpbench sink|load [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "sink":
		sink(os.Args[2:])
	case "load":
		load(os.Args[2:])
	case "http":
		httpLoad(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: otlpbench sink|load [flags]")
		os.Exit(2)
	}
}

// ---- sink ----

type counters struct {
	spans, points, traceRequests, metricRequests atomic.Int64
}

type traceSink struct {
	coltracepb.UnimplementedTraceServiceServer
	c *counters
}

func (s *traceSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	s.c.spans.Add(int64(n))
	s.c.traceRequests.Add(1)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type metricsSink struct {
	colmetricspb.UnimplementedMetricsServiceServer
	c *counters
}

func dataPoints(m *metricspb.Metric) int {
	switch d := m.Data.(type) {
	case *metricspb.Metric_Gauge:
		return len(d.Gauge.DataPoints)
	case *metricspb.Metric_Sum:
		return len(d.Sum.DataPoints)
	case *metricspb.Metric_Histogram:
		return len(d.Histogram.DataPoints)
	case *metricspb.Metric_ExponentialHistogram:
		return len(d.ExponentialHistogram.DataPoints)
	case *metricspb.Metric_Summary:
		return len(d.Summary.DataPoints)
	}
	return 0
}

func (s *metricsSink) Export(_ context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	n := 0
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				n += dataPoints(m)
			}
		}
	}
	s.c.points.Add(int64(n))
	s.c.metricRequests.Add(1)
	return &colmetricspb.ExportMetricsServiceResponse{}, nil
}

func sink(args []string) {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	grpcAddr := fs.String("grpc", "127.0.0.1:0", "OTLP/gRPC listen address")
	httpAddr := fs.String("http", "127.0.0.1:0", "address of the /count endpoint")
	_ = fs.Parse(args)
	c := &counters{}
	lis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	coltracepb.RegisterTraceServiceServer(srv, &traceSink{c: c})
	colmetricspb.RegisterMetricsServiceServer(srv, &metricsSink{c: c})
	hl, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int64{
			"spans": c.spans.Load(), "points": c.points.Load(),
			"trace_requests": c.traceRequests.Load(), "metric_requests": c.metricRequests.Load(),
		})
	})
	go func() { _ = http.Serve(hl, mux) }()
	fmt.Printf("{\"grpc\":%q,\"http\":%q}\n", lis.Addr().String(), hl.Addr().String())
	_ = srv.Serve(lis)
}

// ---- load ----

// rawCodec sends pre-encoded bytes as they are and ignores the (empty) response.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)   { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(_ []byte, _ any) error { return nil }
func (rawCodec) Name() string                    { return "proto" }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
func integer(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func resource(i int) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.name", fmt.Sprintf("checkout-%d", i)), str("host.name", "bench-node-1"),
		integer("process.pid", int64(4000+i)), str("process.executable.name", "node"), str("k8s.namespace.name", "shop"),
	}}
}

// traceRequest: `items` HTTP server spans in 2 resources, ~10 attributes each, as an SDK batch looks.
func traceRequest(items int) []byte {
	now := uint64(time.Now().UnixNano())
	req := &coltracepb.ExportTraceServiceRequest{}
	per := (items + 1) / 2
	made := 0
	for r := 0; r < 2 && made < items; r++ {
		ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "sonde.bench", Version: "1"}}
		for i := 0; i < per && made < items; i++ {
			tid := make([]byte, 16)
			sid := make([]byte, 8)
			for b := range tid {
				tid[b] = byte(made*7 + b + 1)
			}
			for b := range sid {
				sid[b] = byte(made*3 + b + 1)
			}
			ss.Spans = append(ss.Spans, &tracepb.Span{
				TraceId: tid, SpanId: sid, Name: "GET /api/orders/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: now - 2_000_000, EndTimeUnixNano: now,
				Attributes: []*commonpb.KeyValue{
					str("http.request.method", "GET"), integer("http.response.status_code", 200), str("url.path", fmt.Sprintf("/api/orders/%d", made)),
					str("http.route", "/api/orders/{id}"), str("server.address", "10.0.3.7"), integer("server.port", 8080),
					str("client.address", "10.0.9.12"), str("network.peer.address", "10.0.9.12"), integer("network.peer.port", 40000+int64(made%20000)),
					str("network.protocol.version", "1.1"),
				},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET},
			})
			made++
		}
		req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{Resource: resource(r), ScopeSpans: []*tracepb.ScopeSpans{ss}})
	}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// metricsRequest: `items` data points, a mix of cumulative sums and histograms with attributes.
func metricsRequest(items int) []byte {
	now := uint64(time.Now().UnixNano())
	start := now - uint64(time.Minute)
	sm := &metricspb.ScopeMetrics{Scope: &commonpb.InstrumentationScope{Name: "sonde.bench", Version: "1"}}
	made := 0
	for m := 0; made < items; m++ {
		pointsHere := 10
		if items-made < pointsHere {
			pointsHere = items - made
		}
		if m%2 == 0 {
			sum := &metricspb.Sum{AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true}
			for p := 0; p < pointsHere; p++ {
				sum.DataPoints = append(sum.DataPoints, &metricspb.NumberDataPoint{
					Attributes:        []*commonpb.KeyValue{str("server.address", fmt.Sprintf("10.0.0.%d", p)), integer("server.port", 443), str("network.tcp.direction", "outbound")},
					StartTimeUnixNano: start, TimeUnixNano: now, Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(1000 + p)},
				})
			}
			sm.Metrics = append(sm.Metrics, &metricspb.Metric{Name: fmt.Sprintf("bench.connections.%d", m), Unit: "{connection}", Data: &metricspb.Metric_Sum{Sum: sum}})
		} else {
			h := &metricspb.Histogram{AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}
			for p := 0; p < pointsHere; p++ {
				sumv := 12.5
				h.DataPoints = append(h.DataPoints, &metricspb.HistogramDataPoint{
					Attributes:        []*commonpb.KeyValue{str("http.request.method", "GET"), integer("http.response.status_code", 200), str("http.route", fmt.Sprintf("/r/%d", p))},
					StartTimeUnixNano: start, TimeUnixNano: now, Count: 100, Sum: &sumv,
					ExplicitBounds: []float64{0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10},
					BucketCounts:   []uint64{0, 10, 20, 30, 20, 10, 5, 3, 1, 1, 0, 0, 0, 0, 0, 0},
				})
			}
			sm.Metrics = append(sm.Metrics, &metricspb.Metric{Name: fmt.Sprintf("bench.request.duration.%d", m), Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: h}})
		}
		made += pointsHere
	}
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{Resource: resource(0), ScopeMetrics: []*metricspb.ScopeMetrics{sm}}}}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func load(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("target", "127.0.0.1:4317", "OTLP/gRPC address")
	signal := fs.String("signal", "traces", "traces or metrics")
	items := fs.Int("items", 200, "spans or data points per request")
	concurrency := fs.Int("concurrency", 8, "requests in flight")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	maxRequests := fs.Int64("max-requests", 1_000_000, "upper bound on requests sent")
	_ = fs.Parse(args)

	var body []byte
	var method string
	switch *signal {
	case "traces":
		body, method = traceRequest(*items), "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	case "metrics":
		body, method = metricsRequest(*items), "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
	default:
		fmt.Fprintln(os.Stderr, "load: -signal must be traces or metrics")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	defer conn.Close()

	var sent, ok, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*duration)
	cpu0 := cpuSeconds()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if sent.Add(1) > *maxRequests {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var out []byte
				err := conn.Invoke(ctx, method, &body, &out)
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	res := map[string]any{
		"requests_ok": ok.Load(), "requests_failed": failed.Load(), "items_per_request": *items,
		"items_ok": ok.Load() * int64(*items), "elapsed_s": elapsed, "cpu_s": cpuSeconds() - cpu0,
		"request_bytes": len(body),
	}
	if e := firstErr.Load(); e != nil {
		res["first_error"] = e
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// ---- fixed-rate HTTP load ----

func httpLoad(args []string) {
	fs := flag.NewFlagSet("http", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080/", "URL to GET")
	rate := fs.Float64("rate", 10000, "requests per second (all connections together)")
	conns := fs.Int("connections", 16, "keep-alive connections")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	maxRequests := fs.Int64("max-requests", 10_000_000, "upper bound on requests sent")
	_ = fs.Parse(args)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	var sent, ok, failed atomic.Int64
	lat := make([][]time.Duration, *conns)
	interval := time.Duration(float64(time.Second) * float64(*conns) / *rate)
	t0 := time.Now()
	deadline := t0.Add(*duration)
	cpu0 := cpuSeconds()
	var wg sync.WaitGroup
	for w := 0; w < *conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// Each connection sends on its own schedule, offset so the whole is evenly spread;
			// when late (server slower than the rate) it sends at once and catches up.
			next := t0.Add(interval * time.Duration(w) / time.Duration(*conns))
			for {
				now := time.Now()
				if now.After(deadline) || sent.Add(1) > *maxRequests {
					return
				}
				if d := next.Sub(now); d > 0 {
					time.Sleep(d)
				}
				start := time.Now()
				resp, err := client.Get(*url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
					lat[w] = append(lat[w], time.Since(start))
				}
				next = next.Add(interval)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	b, _ := json.Marshal(map[string]any{
		"requests": ok.Load(), "failed": failed.Load(), "elapsed_s": elapsed, "rps": float64(ok.Load()) / elapsed,
		"p50_ms": pct(0.50), "p99_ms": pct(0.99), "cpu_s": cpuSeconds() - cpu0,
	})
	fmt.Println(string(b))
}
