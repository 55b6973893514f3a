package healthwatch

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the ingest pipeline, read at scrape time so that ingest pays
// nothing for them.
var (
	descOpenSessions  = prometheus.NewDesc("ripcord_ingest_open_sessions", "Sessions whose last update was ok, held for dedupe.", nil, nil)
	descEndedSessions = prometheus.NewDesc("ripcord_ingest_ended_sessions", "Ended sessions held for dedupe of retries (two generations).", nil, nil)
	descEvicted       = prometheus.NewDesc("ripcord_ingest_evicted_sessions_total", "Sessions whose dedupe state was evicted; later updates of them are dropped, not counted.", nil, nil)
	descDevices       = prometheus.NewDesc("ripcord_ingest_devices", "Devices in the in-memory per-release sets (crash-free users).", nil, nil)
	descPending       = prometheus.NewDesc("ripcord_ingest_pending_buckets", "Per-minute count rows waiting for the next flush.", nil, nil)
	descUnflushed     = prometheus.NewDesc("ripcord_ingest_unflushed_log_bytes", "Bytes of ingest log not yet written to the database.", nil, nil)
)

// Collector exposes the ingest pipeline's state to Prometheus; it reports
// nothing while no pipeline runs.
func (s *Service) Collector() prometheus.Collector { return ingestCollector{s} }

type ingestCollector struct{ s *Service }

func (c ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpenSessions, descEndedSessions, descEvicted, descDevices, descPending, descUnflushed} {
		ch <- d
	}
}

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.s.pipe
	if p == nil {
		return
	}
	p.mu.Lock()
	open, ended, evicted := len(p.sessions.open), len(p.sessions.ended)+len(p.sessions.endedOld), p.sessions.evicted
	devices := 0
	for _, set := range p.devices {
		devices += len(set)
	}
	pending, unflushed := len(p.pending), p.log.End()-p.flushedPos
	p.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descOpenSessions, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(descEndedSessions, prometheus.GaugeValue, float64(ended))
	ch <- prometheus.MustNewConstMetric(descEvicted, prometheus.CounterValue, float64(evicted))
	ch <- prometheus.MustNewConstMetric(descDevices, prometheus.GaugeValue, float64(devices))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(descUnflushed, prometheus.GaugeValue, float64(unflushed))
}
