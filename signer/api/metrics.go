package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

// wrap counts and times each request under its route pattern (never the
// raw path, which would let callers create series at will).
func (m *metrics) wrap(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, route := mux.Handler(r)
		if route == "" || route == "/" {
			route = "other"
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		mux.ServeHTTP(sw, r)
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

// RegisterMetrics adds collectors of other parts (the audit sealer) to
// /metrics.
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) { s.metrics.reg.MustRegister(cs...) }

// ObserveHSM times one HSM operation.
func (s *Server) ObserveHSM(op string, start time.Time) {
	s.metrics.HSM.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
