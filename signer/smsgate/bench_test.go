package smsgate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/plugins/sms/outbox"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store/sqlite"
)

// inProcess is an adapter called in segld's own process: the baseline
// the plugin boundary is measured against.
type inProcess struct{ g sms.Gateway }

func (a inProcess) Get(context.Context) (any, error) { return a.g, nil }
func (a inProcess) Failed()                          {}

// BenchmarkSMSSend measures the gate's send of an SMS code — the attempt
// row and its audit records, the adapter's send, its answer recorded —
// through the outbox adapter as a plugin process (gRPC over mutual TLS)
// and the same adapter called in-process, in one run. The plugin variant
// reports its rate as a ratio to the in-process one just measured
// (vs-in-process), and each its p50 and p99 latency of a send.
func BenchmarkSMSSend(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "bin")
	os.Mkdir(dir, 0o755)
	bin := filepath.Join(dir, "segl-sms-outbox")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/segl/segl/cmd/segl-sms-outbox").CombinedOutput(); err != nil {
		b.Fatalf("build the outbox plugin: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	h := host.New(slog.New(slog.NewTextHandler(io.Discard, nil)), host.Policy{})
	defer h.Stop()

	variants := []struct {
		name    string
		adapter func(b *testing.B, file string) smsgate.Plugin
	}{
		{"in-process", func(b *testing.B, file string) smsgate.Plugin {
			o := outbox.New()
			if _, err := o.Configure(context.Background(), map[string]string{"file": file}); err != nil {
				b.Fatal(err)
			}
			return inProcess{o}
		}},
		{"plugin", func(b *testing.B, file string) smsgate.Plugin {
			p, err := h.Add(context.Background(), sms.HostContract, host.Spec{Name: fmt.Sprintf("outbox-%d", time.Now().UnixNano()),
				Command: bin, SHA256: hex.EncodeToString(sum[:]), Settings: map[string]string{"file": file}})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}},
	}
	// 1 goroutine; then 8 per CPU, as many requests at once.
	for _, perCPU := range []int{0, 8} {
		goroutines := max(1, perCPU*runtime.GOMAXPROCS(0))
		var baseline float64
		for _, v := range variants {
			// The store and the adapter are made once per sub-benchmark,
			// not in its body, which runs again for each b.N it tries: a
			// plugin started per round would be timed starting.
			work := b.TempDir()
			db, err := sqlite.Open(filepath.Join(work, "db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			g := &smsgate.Gate{Store: db, Clock: clock.System{}, Adapters: []smsgate.Adapter{{Name: v.name, Plugin: v.adapter(b, filepath.Join(work, "outbox.jsonl"))}}}
			b.Run(fmt.Sprintf("%s/g%d", v.name, goroutines), func(b *testing.B) {
				msg := smsgate.Message{User: "u", To: "+4512345678", Text: "Code 481516 for DKK 129.95 at Fakta. Valid 5 min. Never share it."}
				var mu sync.Mutex
				var lat []time.Duration
				send := func(next func() bool) {
					var mine []time.Duration
					for next() {
						t0 := time.Now()
						if _, err := g.Send(context.Background(), msg); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}
				b.ResetTimer()
				if perCPU == 0 {
					send(b.Loop)
				} else {
					b.SetParallelism(perCPU)
					b.RunParallel(func(pb *testing.PB) { send(pb.Next) })
				}
				b.StopTimer()
				rate := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "ops/s")
				if len(lat) > 0 {
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				}
				if v.name == "in-process" {
					baseline = rate
				} else if baseline > 0 {
					b.ReportMetric(rate/baseline, "vs-in-process")
				}
			})
		}
	}
}
