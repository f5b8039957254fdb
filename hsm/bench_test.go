package hsm_test

import (
	"bufio"
	"crypto"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/softhsm/softhsmtest"
)

// The benchmarks measure the package against raw crypto11 on the same
// token in the same run, so the ratio holds whatever the machine:
//
//	crypto11        crypto11's own Signer / HMAC on a token key: the baseline
//	token           this package on the same token key
//	wrapped-cached  a wrapped key whose unwrapped session object is cached
//	wrapped-cold    a wrapped key unwrapped, used and destroyed every time
//
// each with 1 and 16 goroutines. bench/run.sh runs them and bench/RESULTS.md
// records the figures.

// benchEnv is one token with one key of each kind, opened three ways.
type benchEnv struct {
	ks, cold *hsm.Keystore
	c11      *crypto11.Context
	ids      map[string][]byte
	wrapped  map[string]*hsm.WrappedKey
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	tok := softhsmtest.New(b)
	e := &benchEnv{ids: map[string][]byte{}, wrapped: map[string]*hsm.WrappedKey{}}
	open := func(cache int) *hsm.Keystore {
		cfg := tok.Config()
		cfg.Sessions = 32
		cfg.UnwrapCache = cache
		ks, err := hsm.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ks.Close() })
		return ks
	}
	e.ks = open(0)
	if _, err := e.ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		b.Fatal(err)
	}
	for _, t := range []hsm.KeyType{hsm.ECDSAP256, hsm.RSA2048, hsm.HMACSHA256} {
		k, err := e.ks.Generate(string(t), t)
		if err != nil {
			b.Fatal(err)
		}
		e.ids[string(t)] = k.ID
		if e.wrapped[string(t)], err = e.ks.GenerateWrapped("kek", t); err != nil {
			b.Fatal(err)
		}
	}
	e.cold = open(hsm.NoUnwrapCache)
	c11, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: string(tok.PIN), MaxSessions: 33})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c11.Close() })
	e.c11 = c11
	return e
}

// run calls op b.N times from g goroutines.
func run(b *testing.B, g int, op func() error) {
	b.Helper()
	if err := op(); err != nil { // warm: connections, caches
		b.Fatal(err)
	}
	rss := rssBytes()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, g)
	b.ResetTimer()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(rssBytes()-rss)/float64(b.N), "rss-B/op")
}

// rssBytes is the process's resident set, where SoftHSM's memory shows.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

var goroutines = []int{1, 16}

func BenchmarkSign(b *testing.B) {
	e := newBenchEnv(b)
	digest := sha256.Sum256([]byte("order 42"))
	for _, alg := range []string{string(hsm.ECDSAP256), string(hsm.RSA2048)} {
		c11, err := e.c11.FindKeyPair(e.ids[alg], nil)
		if err != nil {
			b.Fatal(err)
		}
		token, _ := e.ks.Signer(alg)
		cached, _ := e.ks.WrappedSigner(e.wrapped[alg])
		cold, _ := e.cold.WrappedSigner(e.wrapped[alg])
		// Each variant right after its baseline, so they see the same
		// machine; the cold one last, since it grows SoftHSM's memory.
		for _, g := range goroutines {
			for _, v := range []struct {
				name string
				s    crypto.Signer
			}{{"crypto11", c11}, {"token", token}, {"wrapped-cached", cached}, {"wrapped-cold", cold}} {
				b.Run(fmt.Sprintf("%s/%s/g%d", alg, v.name, g), func(b *testing.B) {
					run(b, g, func() error { _, err := v.s.Sign(nil, digest[:], crypto.SHA256); return err })
				})
			}
		}
	}
}

func BenchmarkHMAC(b *testing.B) {
	e := newBenchEnv(b)
	msg := []byte("SEGL-CODECARD-1\x00CODE\x000123456789\x00\x00\x00\x00\x2a")
	alg := string(hsm.HMACSHA256)
	c11, err := e.c11.FindKey(e.ids[alg], nil)
	if err != nil {
		b.Fatal(err)
	}
	token, _ := e.ks.HMAC(alg)
	cached, _ := e.ks.WrappedHMAC(e.wrapped[alg])
	cold, _ := e.cold.WrappedHMAC(e.wrapped[alg])
	sum := func(k *hsm.HMACKey) func() error {
		return func() error { _, err := k.Sum(crypto.SHA256, msg); return err }
	}
	variants := []struct {
		name string
		op   func() error
	}{
		{"crypto11", func() error {
			h, err := c11.NewHMAC(pkcs11.CKM_SHA256_HMAC, 0)
			if err != nil {
				return err
			}
			h.Write(msg)
			h.Sum(nil) // releases crypto11's session
			return nil
		}},
		{"token", sum(token)},
		{"wrapped-cached", sum(cached)},
		{"wrapped-cold", sum(cold)},
	}
	for _, g := range goroutines {
		for _, v := range variants {
			b.Run(fmt.Sprintf("%s/%s/g%d", alg, v.name, g), func(b *testing.B) { run(b, g, v.op) })
		}
	}
}
