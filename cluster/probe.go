package cluster

// Readiness that tells the truth: being connected to a NATS server is not
// being able to serve. A server whose JetStream lost its quorum (two of
// three servers down) takes connections and refuses, slowly, every write;
// a join there would wait and fail. So the broker tries, every
// ProbeInterval, what a join and a chat line need: a write and a read in
// the members bucket and in the history stream, each within ProbeTimeout.
// Until one succeeds again, Err says why, /_/readyz answers 503 and joins
// are refused at once, so a load balancer sends pages to a node that can
// take them.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// probeSubject is this node's probe in the history stream: within its
// subjects, so the same store and replicas answer, and bounded by its
// per-subject limit. No room's key can be it (rooms' are hex).
func (b *Broker) probeSubject() string { return "filehub.hist.probe." + validToken(b.cfg.Node) }

// probeKey is this node's probe in the members bucket (no room's key is
// a single token).
func (b *Broker) probeKey() string { return "probe-" + validToken(b.cfg.Node) }

// metrics are the broker's collectors.
type metrics struct {
	// delay is how long a history message took from the stream to this
	// node's hub: a stall in delivery shows here, in its tail.
	delay prometheus.Histogram
	// probe is how long the last probe took; ready is 1 while Err is nil.
	probe prometheus.Gauge
	ready prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "filehub", Subsystem: "cluster", Name: "history_delay_seconds",
			Help:    "Time from a feed event's or chat line's storing in the history stream to its delivery to this node's hub (a stall shows in the tail).",
			Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10), // 100 µs to 26 s
		}),
		probe: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Subsystem: "cluster", Name: "probe_seconds",
			Help: "How long the last readiness probe (a write and a read in the members bucket and the history stream) took."}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "filehub", Subsystem: "cluster", Name: "ready",
			Help: "1 while this node can serve the cluster (the probe passes), else 0: /_/readyz says the same."}),
	}
	if reg != nil {
		reg.MustRegister(m.delay, m.probe, m.ready)
	}
	return m
}

// prober probes every ProbeInterval until Close.
func (b *Broker) prober() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
		}
		if b.closed.Load() || !b.nc.IsConnected() {
			continue // Err says so already
		}
		start := time.Now()
		err := b.probe()
		b.metrics.probe.Set(time.Since(start).Seconds())
		switch {
		case err != nil:
			if b.probeErr.Swap(&err) == nil {
				b.log.Warn("probe failed; not ready", "err", err)
			}
		case b.probeErr.Swap(nil) != nil:
			b.log.Info("probe passed; ready again", "took", time.Since(start).Round(time.Millisecond))
		}
		if b.Err() == nil {
			b.metrics.ready.Set(1)
		} else {
			b.metrics.ready.Set(0)
		}
	}
}

// probe writes and reads back this node's probe in the members bucket
// and in the history stream, within ProbeTimeout.
func (b *Broker) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ProbeTimeout)
	defer cancel()
	stamp := []byte(b.instance + " " + time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := b.members.Put(ctx, b.probeKey(), stamp); err != nil {
		return fmt.Errorf("members bucket: %w", probeErr(err))
	}
	if _, err := b.members.Get(ctx, b.probeKey()); err != nil {
		return fmt.Errorf("members bucket: %w", probeErr(err))
	}
	msg := nats.NewMsg(b.probeSubject())
	msg.Data = stamp
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("history stream: %w", probeErr(err))
	}
	s, err := b.js.Stream(ctx, streamName)
	if err == nil {
		_, err = s.GetLastMsgForSubject(ctx, b.probeSubject())
	}
	if err != nil {
		return fmt.Errorf("history stream: %w", probeErr(err))
	}
	return nil
}

// probeErr says a timeout in words a readyz answer can carry.
func probeErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return errors.New("no answer in time (JetStream without quorum?)")
	}
	return err
}
