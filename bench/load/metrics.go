package main

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Where the time went, from segld's own metrics: the request latency by
// route and the HSM operations' latency, summed over the daemons, as the
// difference between a scrape at the start of the measured window and
// one at its end.

// series is a histogram's _sum and _count, by its label value.
type series map[string][2]float64

// scrape holds the two histograms of one or more daemons, and their CPU
// time (process_cpu_seconds_total).
type scrape struct {
	http, hsm series
	cpu       float64
	at        time.Time
}

// parseMetrics reads Prometheus text: segl_http_request_seconds by route
// and segl_hsm_operation_seconds by op, adding into s.
func parseMetrics(text string, s *scrape) {
	if s.http == nil {
		s.http, s.hsm = series{}, series{}
	}
	for _, ln := range strings.Split(text, "\n") {
		if ln == "" || ln[0] == '#' {
			continue
		}
		if v, ok := strings.CutPrefix(ln, "process_cpu_seconds_total "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				s.cpu += f
			}
			continue
		}
		name, rest, ok := strings.Cut(ln, "{")
		if !ok {
			continue
		}
		var into series
		var label string
		switch strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count") {
		case "segl_http_request_seconds":
			into, label = s.http, "route"
		case "segl_hsm_operation_seconds":
			into, label = s.hsm, "op"
		default:
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if err != nil {
			continue
		}
		key := labelValue(labels, label)
		cur := into[key]
		switch {
		case strings.HasSuffix(name, "_sum"):
			cur[0] += v
		case strings.HasSuffix(name, "_count"):
			cur[1] += v
		default:
			continue
		}
		into[key] = cur
	}
}

// labelValue is the value of label in a Prometheus label set
// (route="POST /rp/v1/factor",le="0.1").
func labelValue(labels, label string) string {
	for labels != "" {
		k, rest, ok := strings.Cut(labels, "=")
		if !ok || rest == "" || rest[0] != '"' {
			return ""
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return ""
		}
		if strings.TrimSpace(k) == label {
			v, _ := strconv.Unquote(q)
			return v
		}
		labels = strings.TrimPrefix(rest[len(q):], ",")
	}
	return ""
}

// scrapeAll fetches /metrics of every daemon over mutual TLS (the
// relying party is a registered caller) and adds them up; nil when one
// could not be read.
func scrapeAll(ctx context.Context, a *api) *scrape {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s := &scrape{at: time.Now()}
	for _, base := range a.lb.addrs {
		var text string
		if err := a.callAt(ctx, base, "GET", "/metrics", "", nil, &text); err != nil {
			return nil
		}
		parseMetrics(text, s)
	}
	return s
}

// timing is one route's or HSM operation's time in the window.
type timing struct {
	kind, name string
	count      float64
	seconds    float64
}

// delta lists what changed from a to b, the most time first.
func delta(a, b *scrape) []timing {
	var out []timing
	for _, k := range []struct {
		kind string
		a, b series
	}{{"http", a.http, b.http}, {"hsm", a.hsm, b.hsm}} {
		for name, v := range k.b {
			d := timing{kind: k.kind, name: name, seconds: v[0] - k.a[name][0], count: v[1] - k.a[name][1]}
			if d.count > 0 && name != "GET /metrics" { // the harness's own scrapes
				out = append(out, d)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seconds > out[j].seconds })
	return out
}
