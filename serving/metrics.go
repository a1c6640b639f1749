package serving

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/engagehq/engage/store"
)

// metrics are the server's Prometheus metrics, in a registry of its own so that
// two servers in one process (tests) do not collide.
type metrics struct {
	reg       *prometheus.Registry
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	events    *prometheus.CounterVec
	referrals *prometheus.CounterVec
	model     *prometheus.GaugeVec

	// The children of each label combination seen, so that the hot path
	// neither hashes label values nor allocates a key.
	mu          sync.RWMutex
	decCounters map[decLabels]prometheus.Counter
	observers   map[obsLabels]prometheus.Observer
}

type decLabels struct{ outcome, channel, policy, fallback string }

type obsLabels struct {
	route, method string
	code          int
}

func newMetrics(db *store.DB) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), decCounters: map[decLabels]prometheus.Counter{}, observers: map[obsLabels]prometheus.Observer{}}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "engage_http_request_duration_seconds",
		Help:    "Latency of HTTP requests by route template, method and status code.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
	}, []string{"route", "method", "code"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engage_decisions_total",
		Help: "Decisions by outcome, chosen channel (none when nothing is sent), policy and whether they fell back.",
	}, []string{"outcome", "channel", "policy", "fallback"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engage_events_ingested_total",
		Help: "Events received, by result: stored, or duplicate (already stored; a no-op).",
	}, []string{"result"})
	m.referrals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "engage_referrals_total",
		Help: "Referred account rows by result: created, updated, unchanged.",
	}, []string{"result"})
	m.model = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "engage_model_info",
		Help: "1 for the model version being served.",
	}, []string{"version"})
	size := func(part int) func() float64 {
		return func() float64 {
			lsm, vlog := db.Size()
			if part == 0 {
				return float64(lsm)
			}
			return float64(vlog)
		}
	}
	m.reg.MustRegister(m.latency, m.decisions, m.events, m.referrals, m.model,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engage_store_size_bytes", Help: "Size of the store's LSM tree (badger refreshes it about once a minute).", ConstLabels: prometheus.Labels{"part": "lsm"}}, size(0)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engage_store_size_bytes", Help: "Size of the store's LSM tree (badger refreshes it about once a minute).", ConstLabels: prometheus.Labels{"part": "vlog"}}, size(1)),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observe(route, method string, code int, d time.Duration) {
	k := obsLabels{route, method, code}
	m.mu.RLock()
	o, ok := m.observers[k]
	m.mu.RUnlock()
	if !ok {
		o = m.latency.WithLabelValues(route, method, strconv.Itoa(code))
		m.mu.Lock()
		m.observers[k] = o
		m.mu.Unlock()
	}
	o.Observe(d.Seconds())
}

func (m *metrics) setModel(version string) {
	m.model.Reset()
	m.model.WithLabelValues(version).Set(1)
}

// decision counts one decision.
func (m *metrics) decision(outcome, channel, policy, fallback string) {
	k := decLabels{outcome, channel, policy, fallback}
	m.mu.RLock()
	c, ok := m.decCounters[k]
	m.mu.RUnlock()
	if !ok {
		c = m.decisions.WithLabelValues(outcome, channel, policy, fallback)
		m.mu.Lock()
		m.decCounters[k] = c
		m.mu.Unlock()
	}
	c.Inc()
}
