package api

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
)

// metrics are segld's Prometheus metrics, on a registry of their own so
// that tests and two servers in one process do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// HSM is the latency of HSM operations, observed by the services
	// through ObserveHSM.
	HSM *prometheus.HistogramVec
}

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segl_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "segl_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		HSM: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "segl_hsm_operation_seconds", Help: "Latency of HSM operations by kind.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}, []string{"op"}),
	}
	orders := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "segl_orders_pending", Help: "Orders pending now."},
		func() float64 { return float64(countOrders(st)[store.StatePending]) })
	ordersByState := &orderCollector{st: st, desc: prometheus.NewDesc("segl_orders", "Orders by state.", []string{"state"}, nil)}
	m.reg.MustRegister(m.requests, m.latency, m.HSM, orders, ordersByState,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func countOrders(st store.Store) map[store.OrderState]int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var counts map[store.OrderState]int
	_ = st.View(ctx, func(r store.Reader) (err error) {
		counts, err = r.OrderCounts()
		return err
	})
	return counts
}

type orderCollector struct {
	st   store.Store
	desc *prometheus.Desc
}

func (c *orderCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *orderCollector) Collect(ch chan<- prometheus.Metric) {
	counts := countOrders(c.st)
	for _, s := range []store.OrderState{store.StatePending, store.StateComplete, store.StateFailed} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// reqInfo is what the handlers learn of a request for its log line: who
// called (set by authorize) and the order it is about.
type reqInfo struct{ caller, orderRef string }

type reqInfoKey struct{}

// noteOrder names the order a request is about, for its log line: only a
// well-formed reference, never what a caller sent in its place.
func noteOrder(r *http.Request, ref string) {
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok && orders.CheckRef(ref) == nil {
		info.orderRef = ref
	}
}

func noteCaller(r *http.Request, c string) {
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.caller = c
	}
}

// observe counts, times and logs each request under its route pattern
// (never the raw path, which would let callers create series at will):
// one log line a request with its method, route, status, duration, caller
// and order, and never a body.
func (s *Server) observe(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, route := mux.Handler(r)
		if route == "" || route == "/" {
			route = "other"
		}
		info := &reqInfo{caller: "unknown"}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		mux.ServeHTTP(sw, r)
		took := time.Since(start)
		s.metrics.latency.WithLabelValues(route).Observe(took.Seconds())
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		attrs := []any{"method", r.Method, "route", route, "status", sw.code, "duration_ms", float64(took.Microseconds()) / 1000, "caller", info.caller}
		if info.orderRef != "" {
			attrs = append(attrs, "order_ref", info.orderRef)
		}
		s.log.Info("request", attrs...)
	})
}

// Metrics lists segld's own metrics (segl_*) by name, with their label
// names: what docs/metrics.md documents. The Go runtime's and the
// process's standard collectors (go_*, process_*) are left out.
func (s *Server) Metrics() map[string][]string {
	descs := make(chan *prometheus.Desc)
	go func() {
		s.metrics.reg.Describe(descs)
		close(descs)
	}()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	labels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	out := map[string][]string{}
	for d := range descs {
		n := name.FindStringSubmatch(d.String())
		if n == nil || !strings.HasPrefix(n[1], "segl_") {
			continue
		}
		var ls []string
		if l := labels.FindStringSubmatch(d.String()); l != nil && l[1] != "" {
			ls = strings.Split(l[1], ",")
		}
		out[n[1]] = ls
	}
	return out
}

// RegisterMetrics adds collectors of other parts (the audit sealer) to
// /metrics.
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) { s.metrics.reg.MustRegister(cs...) }

// ObserveHSM times one HSM operation.
func (s *Server) ObserveHSM(op string, start time.Time) {
	s.metrics.HSM.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
