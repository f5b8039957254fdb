package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted
// samples: the smallest sample that at least p% of the samples are at or
// below. It is 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summary is what one measured run found.
type summary struct {
	n        int
	seconds  float64
	perS     float64
	p50, p99 time.Duration
	mean     time.Duration
	max      time.Duration
}

// summarize sorts samples (in place) and sums them up over a window of
// elapsed.
func summarize(samples []time.Duration, elapsed time.Duration) summary {
	slices.Sort(samples)
	s := summary{n: len(samples), seconds: elapsed.Seconds()}
	if s.seconds > 0 {
		s.perS = float64(s.n) / s.seconds
	}
	if s.n == 0 {
		return s
	}
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	s.mean = sum / time.Duration(s.n)
	s.p50, s.p99, s.max = percentile(samples, 50), percentile(samples, 99), samples[s.n-1]
	return s
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// rate formats a rate per second: three significant digits at least.
func rate(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// line is one output line: key=value pairs in the order they were added,
// a value quoted (Go syntax) when it holds a space, a quote or '='.
type line struct{ kv [][2]string }

func (l *line) add(k string, v any) *line {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case time.Duration:
		s = ms(v)
	default:
		s = fmt.Sprint(v)
	}
	l.kv = append(l.kv, [2]string{k, s})
	return l
}

func (l *line) String() string {
	var b strings.Builder
	for i, kv := range l.kv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		if kv[1] == "" || strings.ContainsAny(kv[1], " \t\"=") {
			b.WriteString(strconv.Quote(kv[1]))
		} else {
			b.WriteString(kv[1])
		}
	}
	return b.String()
}

// parseLine reads a line that line.String wrote back into its pairs, in
// order (for the tests, and for anyone post-processing the output in Go).
func parseLine(s string) ([][2]string, error) {
	var out [][2]string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(s, " \t") {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \t\"") {
			return nil, fmt.Errorf("want key=value at %q", s)
		}
		k, rest := s[:eq], s[eq+1:]
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", k, err)
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				return nil, fmt.Errorf("key %s: text after the quoted value", k)
			}
		} else {
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			v, rest = rest[:end], rest[end:]
		}
		out = append(out, [2]string{k, v})
		s = rest
	}
	return out, nil
}

// parseCounts reads a list of order counts such as "1000,100000" or
// "1k,100k" (k for thousands, m for millions), ascending and distinct.
func parseCounts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1000_000, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n*mult)
	}
	if !sort.IntsAreSorted(out) || len(slices.Compact(slices.Clone(out))) != len(out) {
		return nil, fmt.Errorf("%q: give the counts ascending, each once", s)
	}
	return out, nil
}
