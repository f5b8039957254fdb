// Command load is Segl's load harness (issue 14): it drives real flows
// over mutual TLS against one or more running segld daemons and reports
// orders per second and p50/p99 latency at a given concurrency, each flow
// next to its intrinsic cost measured in the same run.
//
//	go run ./bench/load --dev-dir .segl --flow auth-otp --concurrency 16 --duration 15s
//	go run ./bench/load --dev-dir D --addr https://127.0.0.1:8443 --addr https://127.0.0.1:8453 --flow loop
//	go run ./bench/load --dev-dir .segl --flow loop --concurrency 64 --orders 100000 --warmup 0 --rss-at 1000,100000
//	go run ./bench/load --dev-dir .segl --bound argon2id,store --concurrency 2
//
// Every worker is a client of its own user, made for the run through the
// admin API (the officer's certificate from --dev-dir): for auth-otp an
// HOTP token with a seed the harness made, imported as a PSKC file, whose
// codes it computes; for sign-codecard a code card, whose codes the issue
// answer holds (and the next card, when segld issues one as the old one
// runs low, printed when a challenge names it); for app a device
// activated with the password and a code from that card. Every answer is
// checked, down to the assertion's signature and the CMS: an order that
// fails, in any way, is counted as an error, not as a data point.
//
// Output is one line per measurement, key=value pairs (values with a
// space quoted as Go strings): a flow= line for the run, bound= lines for
// the intrinsic costs, rss= lines for the daemons' resident memory at
// given order counts, and where= lines for segld's own timings in the
// window, from its /metrics. The exit status is 1 when an order failed.
package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	appclient "github.com/segl/segl/signer/app/client"
	"github.com/segl/segl/signer/config"
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	devDir, configPath string
	addrs, appAddrs    listFlag
	pids               listFlag
	flow               string
	concurrency        int
	duration, warmup   time.Duration
	orders             int
	bound              string
	boundDuration      time.Duration
	boundWorkers       int
	rssAt              []int
	metrics            bool
	setupPar           int
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.devDir, "dev-dir", ".segl", "the directory segld dev --dir made: its env file names the TLS CA and the officer's and relying party's certificates, its segl.yaml the argon2id parameters and the database")
	fs.StringVar(&o.configPath, "config", "", "the daemons' config, if not DEV-DIR/segl.yaml")
	fs.Var(&o.addrs, "addr", "a daemon's API, https://host:port; repeat for several daemons, which get the requests in turn (default: SEGL_ADDR of DEV-DIR/env)")
	fs.Var(&o.appAddrs, "app-addr", "a daemon's app API, host:port; repeatable (default: SEGL_APP_ADDR of DEV-DIR/env)")
	fs.StringVar(&o.flow, "flow", "", "the flow: "+flowNames()+"; none for the bounds alone")
	fs.IntVar(&o.concurrency, "concurrency", 16, "workers, each a client with its own user, one order at a time")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure, after the warmup")
	fs.IntVar(&o.orders, "orders", 0, "measure this many orders instead of a duration")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "orders run, and not measured, before the measurement")
	fs.StringVar(&o.bound, "bound", "auto", "the intrinsic costs to measure before the flow: auto (the flow's own: argon2id for the password flows, store for loop), none, or a list of argon2id and store")
	fs.DurationVar(&o.boundDuration, "bound-duration", 5*time.Second, "how long each bound is measured")
	fs.IntVar(&o.boundWorkers, "bound-workers", 0, "goroutines of a bound (default: argon2id one per core of this machine and at most the concurrency, as segld runs one password check per core; store the concurrency)")
	fs.Var(&o.pids, "pid", "segld's process ID, for rss= lines (default: the process listening on each --addr's port, if it is on this machine)")
	rss := fs.String("rss-at", "", "print each daemon's VmRSS when this many orders have completed, counted from the start of the warmup: e.g. 1000,100000")
	fs.BoolVar(&o.metrics, "metrics", true, "print where= lines: segld's request and HSM timings in the window, from its /metrics")
	fs.IntVar(&o.setupPar, "setup-parallel", 4, "users made at once before the run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/load [flags]\n\nSegl's load harness: drives real flows over mutual TLS against running segld daemons.\n\nflows:\n")
		for _, f := range flows {
			fmt.Fprintf(stderr, "  %-14s %s\n", f.name, f.about)
		}
		fmt.Fprintf(stderr, "\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.rssAt, err = parseCounts(*rss); err != nil {
		return nil, fmt.Errorf("--rss-at: %w", err)
	}
	if o.flow == "" {
		o.flow = "none"
	}
	if _, ok := flowByName(o.flow); !ok && o.flow != "none" {
		return nil, fmt.Errorf("--flow %q: want one of %s, or none", o.flow, flowNames())
	}
	switch {
	case o.concurrency < 1:
		return nil, errors.New("--concurrency must be at least 1")
	case o.orders < 0:
		return nil, errors.New("--orders must not be negative")
	case o.orders == 0 && o.duration <= 0:
		return nil, errors.New("--duration must be positive (or give --orders)")
	case o.warmup < 0:
		return nil, errors.New("--warmup must not be negative")
	case o.setupPar < 1:
		return nil, errors.New("--setup-parallel must be at least 1")
	}
	if _, err := o.bounds(); err != nil {
		return nil, err
	}
	return o, nil
}

func flowNames() string {
	var n []string
	for _, f := range flows {
		n = append(n, f.name)
	}
	return strings.Join(n, ", ")
}

// bounds lists the bounds to measure.
func (o *options) bounds() ([]string, error) {
	switch o.bound {
	case "auto":
		if f, ok := flowByName(o.flow); ok && f.bound != "" {
			return []string{f.bound}, nil
		}
		return nil, nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, b := range strings.Split(o.bound, ",") {
		if b = strings.TrimSpace(b); b != "argon2id" && b != "store" {
			return nil, fmt.Errorf("--bound %q: want auto, none, or a list of argon2id and store", o.bound)
		}
		out = append(out, b)
	}
	return out, nil
}

// readEnv reads the exports of DEV-DIR/env (export K='v').
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(ln, "export ") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(ln, "export "), "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		env[k] = v
	}
	return env, sc.Err()
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func readCerts(path string) ([]*x509.Certificate, error) {
	return config.ReadCertificates(path)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}
	errs, err := runLoad(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}
	if errs > 0 {
		return 1
	}
	return 0
}

func runLoad(ctx context.Context, o *options, stdout, stderr io.Writer) (int64, error) {
	envFile := filepath.Join(o.devDir, "env")
	vars, err := readEnv(envFile)
	if err != nil {
		return 0, fmt.Errorf("%s: %w (run segld dev --dir %s first)", envFile, err, o.devDir)
	}
	if o.configPath == "" {
		o.configPath = filepath.Join(o.devDir, "segl.yaml")
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", o.configPath, err)
	}
	if len(o.addrs) == 0 && vars["SEGL_ADDR"] != "" {
		o.addrs = listFlag{vars["SEGL_ADDR"]}
	}
	if len(o.appAddrs) == 0 && vars["SEGL_APP_ADDR"] != "" {
		o.appAddrs = listFlag{vars["SEGL_APP_ADDR"]}
	}
	bounds, _ := o.bounds()
	fd, _ := flowByName(o.flow)

	var results []*boundResult
	measure := func() error {
		for _, b := range bounds {
			var r *boundResult
			var err error
			switch b {
			case "argon2id":
				w := o.boundWorkers
				if w == 0 {
					w = min(o.concurrency, runtime.NumCPU())
				}
				r, err = argon2Bound(ctx, cfg.Passwords, w, o.boundDuration)
			case "store":
				w := o.boundWorkers
				if w == 0 {
					w = o.concurrency
				}
				r, err = storeBound(ctx, cfg, w, o.boundDuration)
			}
			if err != nil {
				return fmt.Errorf("bound %s: %w", b, err)
			}
			results = append(results, r)
			fmt.Fprintln(stdout, r.line())
		}
		return nil
	}
	if o.flow == "none" {
		return 0, measure()
	}
	if len(o.addrs) == 0 {
		return 0, fmt.Errorf("no daemon: give --addr, or a --dev-dir whose env has SEGL_ADDR")
	}
	for _, a := range o.addrs {
		if !strings.HasPrefix(a, "https://") {
			return 0, fmt.Errorf("--addr %q: want https://host:port", a)
		}
	}

	roots, err := tlsPool(vars["SEGL_CA"])
	if err != nil {
		return 0, fmt.Errorf("the TLS CA (SEGL_CA): %w", err)
	}
	lb := &balancer{addrs: []string(o.addrs)}
	for i, a := range lb.addrs {
		lb.addrs[i] = strings.TrimRight(a, "/")
	}
	e := &env{run: "l" + randomHex(4), challengeLimit: cfg.Orders.ChallengesPerHour, setupPar: o.setupPar}
	if e.rp, err = newAPI(roots, vars["SEGL_RP_CERT"], vars["SEGL_RP_KEY"], lb, o.concurrency); err != nil {
		return 0, err
	}
	if e.off, err = newAPI(roots, vars["SEGL_CERT"], vars["SEGL_KEY"], lb, o.setupPar); err != nil {
		return 0, err
	}
	for _, a := range o.appAddrs {
		cl := appclient.New(a, roots)
		cl.HTTP.Transport = transport(roots, nil, o.concurrency)
		e.apps = append(e.apps, cl)
	}
	issuer := vars["SEGL_ISSUER_CA"]
	if issuer == "" {
		issuer = cfg.Path(cfg.Issuer.Certificate)
	}
	if e.ver, err = newVerifier(issuer); err != nil {
		return 0, err
	}

	// The daemons' processes, for the RSS lines.
	var pids []int
	if len(o.rssAt) > 0 {
		for _, p := range o.pids {
			n, err := strconv.Atoi(p)
			if err != nil {
				return 0, fmt.Errorf("--pid %q: %w", p, err)
			}
			pids = append(pids, n)
		}
		if len(pids) == 0 {
			for _, a := range lb.addrs {
				pid, err := listenerPID(a)
				if err != nil {
					return 0, fmt.Errorf("--rss-at: %s: %w", a, err)
				}
				pids = append(pids, pid)
			}
		}
	}

	setupStart := time.Now()
	workers, err := fd.setup(ctx, e, o.concurrency)
	if err != nil {
		return 0, fmt.Errorf("set up %d workers for %s: %w", o.concurrency, o.flow, err)
	}
	fmt.Fprintf(stderr, "load: %s: %d workers set up in %.1fs (users %s-*)\n", o.flow, len(workers), time.Since(setupStart).Seconds(), e.run)
	if err := measure(); err != nil {
		return 0, err
	}

	var rssLines []*line
	var rssMu sync.Mutex
	var rssWG sync.WaitGroup
	thresholds := o.rssAt
	onOrder := func(total int64) {
		for _, t := range thresholds {
			if total != int64(t) {
				continue
			}
			rssWG.Go(func() {
				for i, pid := range pids {
					l := (&line{}).add("rss", o.flow).add("daemon", i+1).add("pid", pid).add("orders", t)
					if rss, hwm, err := procStatus(pid); err != nil {
						l.add("error", err.Error())
					} else {
						l.add("vmrss_kib", rss).add("vmhwm_kib", hwm)
					}
					rssMu.Lock()
					rssLines = append(rssLines, l)
					rssMu.Unlock()
				}
			})
		}
	}

	var before, after *scrape
	var cpu0, cpu1 time.Duration
	var wall0, wall1 time.Time
	r := &runner{workers: workers, warmup: o.warmup, duration: o.duration, orders: o.orders, onOrder: onOrder, stderr: stderr,
		atStart: func() {
			cpu0, wall0 = selfCPU(), time.Now()
			if o.metrics {
				before = scrapeAll(ctx, e.rp)
			}
		},
		atEnd: func() {
			cpu1, wall1 = selfCPU(), time.Now()
			if o.metrics {
				after = scrapeAll(ctx, e.rp)
			}
		}}
	res := r.run(ctx)
	rssWG.Wait()

	l := (&line{}).add("flow", o.flow).add("daemons", len(lb.addrs)).add("store", storeKind(cfg)).add("concurrency", o.concurrency).
		add("orders", res.sum.n).add("errors", res.errors).add("seconds", fmt.Sprintf("%.1f", res.sum.seconds)).
		add("orders_per_s", rate(res.sum.perS)).add("p50_ms", res.sum.p50).add("p99_ms", res.sum.p99).
		add("mean_ms", res.sum.mean).add("max_ms", res.sum.max)
	for _, b := range results {
		if b.name != fd.bound {
			continue
		}
		l.add("bound", b.name).add("bound_orders_per_s", rate(b.ordersPerS()))
		if b.ordersPerS() > 0 {
			l.add("vs_bound", fmt.Sprintf("%.2f", res.sum.perS/b.ordersPerS()))
		}
	}
	// The cores each side kept busy in the window: this machine's
	// daemons (their process_cpu_seconds_total) and the harness itself.
	if before != nil && after != nil && after.at.After(before.at) {
		l.add("server_cores", fmt.Sprintf("%.2f", (after.cpu-before.cpu)/after.at.Sub(before.at).Seconds()))
	}
	if wall1.After(wall0) {
		l.add("client_cores", fmt.Sprintf("%.2f", (cpu1-cpu0).Seconds()/wall1.Sub(wall0).Seconds()))
	}
	if n := e.rotations.Load(); n > 0 {
		l.add("user_rotations", n)
		fmt.Fprintf(stderr, "load: orders.challenges-per-hour is %d: workers moved to %d new users during the run; raise it in the config for a clean figure\n", e.challengeLimit, n)
	}
	fmt.Fprintln(stdout, l)
	for _, rl := range rssLines {
		fmt.Fprintln(stdout, rl)
	}
	if before != nil && after != nil {
		for _, t := range delta(before, after) {
			wl := (&line{}).add("where", o.flow).add("concurrency", o.concurrency).add("kind", t.kind).add("name", t.name).
				add("count", int64(t.count)).add("mean_ms", time.Duration(t.seconds/t.count*float64(time.Second)))
			if res.sum.n > 0 {
				wl.add("per_order", fmt.Sprintf("%.2f", t.count/float64(res.sum.n))).
					add("ms_per_order", ms(time.Duration(t.seconds/float64(res.sum.n)*float64(time.Second))))
			}
			fmt.Fprintln(stdout, wl)
		}
	}
	for _, m := range res.firstErrors {
		fmt.Fprintf(stderr, "load: %s: failed order: %s\n", o.flow, m)
	}
	if res.errors > int64(len(res.firstErrors)) {
		fmt.Fprintf(stderr, "load: %s: %d failed orders in all\n", o.flow, res.errors)
	}
	return res.errors, ctx.Err()
}

// runner drives the workers: a warmup, then the measured window, of a
// duration or of a number of orders.
type runner struct {
	workers          []worker
	warmup, duration time.Duration
	orders           int
	// onOrder is called with the count of orders completed so far,
	// warmup included, after each one.
	onOrder        func(total int64)
	atStart, atEnd func()
	stderr         io.Writer
}

type runResult struct {
	sum         summary
	errors      int64
	firstErrors []string
}

const keepErrors = 5

func (r *runner) run(ctx context.Context) runResult {
	var (
		res      runResult
		mu       sync.Mutex
		samples  []time.Duration
		total    atomic.Int64
		counted  atomic.Int64
		errCount atomic.Int64
		stopped  atomic.Bool
		endAt    atomic.Int64 // the orders mode's end: the Nth order's completion
		wg       sync.WaitGroup
	)
	t0 := time.Now().Add(r.warmup)
	t1 := t0.Add(r.duration)
	started := make(chan struct{})
	go func() {
		select {
		case <-time.After(time.Until(t0)):
		case <-ctx.Done():
		}
		if r.atStart != nil {
			r.atStart()
		}
		close(started)
	}()
	var endOnce sync.Once
	ended := make(chan struct{})
	finish := func() {
		endOnce.Do(func() {
			go func() {
				<-started
				if r.atEnd != nil {
					r.atEnd()
				}
				close(ended)
			}()
		})
	}
	if r.orders == 0 {
		go func() {
			select {
			case <-time.After(time.Until(t1)):
			case <-ctx.Done():
			}
			finish()
		}()
	}
	fail := func(err error) {
		if errCount.Add(1) <= keepErrors {
			mu.Lock()
			res.firstErrors = append(res.firstErrors, err.Error())
			mu.Unlock()
		}
	}
	for _, w := range r.workers {
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				samples = append(samples, mine...)
				mu.Unlock()
			}()
			for !stopped.Load() && ctx.Err() == nil {
				if r.orders == 0 && !time.Now().Before(t1) {
					return
				}
				if err := w.prepare(ctx); err != nil {
					fail(fmt.Errorf("prepare: %w", err))
					time.Sleep(100 * time.Millisecond)
					continue
				}
				begin := time.Now()
				err := w.order(ctx)
				end := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					continue
				}
				if r.onOrder != nil {
					r.onOrder(total.Add(1))
				}
				if end.Before(t0) {
					continue
				}
				if r.orders > 0 {
					n := counted.Add(1)
					if n > int64(r.orders) {
						continue
					}
					mine = append(mine, end.Sub(begin))
					if n == int64(r.orders) {
						endAt.Store(end.UnixNano())
						stopped.Store(true)
						finish()
					}
				} else if end.Before(t1) {
					mine = append(mine, end.Sub(begin))
				}
			}
		})
	}
	wg.Wait()
	finish() // the orders mode, interrupted
	<-ended
	elapsed := r.duration
	if r.orders > 0 {
		elapsed = time.Duration(endAt.Load() - t0.UnixNano())
		if endAt.Load() == 0 {
			elapsed = time.Since(t0)
		}
	}
	res.sum = summarize(samples, elapsed)
	res.errors = errCount.Load()
	return res
}
