// Command podguard-load drives `podguard serve` the way hostile neighbours,
// the kubelet and the API server do, for tests/bench/hostile_bench.sh and
// tests/rollout_test.sh. Standard library only (Debian's golang-go), built
// without a module:
//
//	GO111MODULE=off go build -o podguard-load ./tests/go/podguard-load
//
// Subcommands (each prints one JSON summary line on stdout when it ends,
// human text on stderr):
//
//	trickle    slow connections that send a request head a byte at a time
//	review     an API-server-like client: keep-alive, HTTP/1.1, POST never retried
//	probe      a kubelet-like prober: a new connection per GET, 1 s timeout
//	bigreview  writes an AdmissionReview of a Pod with N violating containers
//
// Every loop is bounded in time (-duration) and in count; traffic goes only
// to the loopback addresses given on the command line.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"
)

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string) (any, error)
}

var commands = []command{
	{"trickle", "-addr HOST:PORT [-tls] [-conns 1500] [-interval 5s] [-duration 30s]", runTrickle},
	{"review", "-url URL -body FILE [-cacert F -servername S | -insecure] [-conns 32] [-duration 10s] [-rate 0] [-timeout 5s] [-stop-on-refused]", runReview},
	{"probe", "-url URL [-cacert F | -insecure] [-interval 200ms] [-duration 10s] [-timeout 1s]", runProbe},
	{"bigreview", "[-containers 6000 | -fill BYTES] [-uid u1]", runBigReview},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: podguard-load COMMAND [flags]; commands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %s %s\n", c.name, c.usage)
	}
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	for _, c := range commands {
		if c.name != os.Args[1] {
			continue
		}
		// SIGINT/SIGTERM end the run early; the summary is still printed.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		summary, err := c.run(ctx, os.Args[2:])
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "podguard-load %s: %v\n", c.name, err)
			os.Exit(2)
		}
		if summary != nil {
			printJSON(summary)
		}
		return
	}
	usage()
}

// newFlags is a FlagSet for a subcommand that exits 2 on a usage error.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("podguard-load "+name, flag.ExitOnError)
}

func printJSON(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "podguard-load: cannot encode the summary: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("%s\n", line)
}

// checkLoopback refuses any target that is not a loopback address: this
// tool is for a server on this machine only.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %v", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback address (127.0.0.0/8, [::1], localhost)", hostport)
	}
	return nil
}

// parseWithURL parses a subcommand's flags and checks its -url.
func parseWithURL(fs *flag.FlagSet, args []string, rawURL *string) (*url.URL, error) {
	fs.Parse(args)
	return checkURL(*rawURL)
}

// checkURL parses an http(s) URL whose host must be a loopback address.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	return u, checkLoopback(hostport)
}

// tlsFlags are the client TLS settings shared by review and probe.
type tlsFlags struct {
	caFile, serverName string
	insecure           bool
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.caFile, "cacert", "", "PEM CA bundle that signed the server's certificate")
	fs.StringVar(&t.serverName, "servername", "", "TLS server name to verify (default: the URL's host)")
	fs.BoolVar(&t.insecure, "insecure", false, "do not verify the server's certificate")
}

// http11 completes tr for u: HTTP/1.1 only (a non-nil empty TLSNextProto
// turns HTTP/2 off, as for a webhook served over HTTP/1.1), no
// compression, and for https the TLS settings of the flags.
func (t *tlsFlags) http11(u *url.URL, tr *http.Transport) (*http.Transport, error) {
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.DisableCompression = true
	if u.Scheme == "https" {
		cfg, err := t.config()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return tr, nil
}

func (t *tlsFlags) config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.serverName, InsecureSkipVerify: t.insecure, MinVersion: tls.VersionTLS12}
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", t.caFile)
		}
		cfg.RootCAs = pool
	} else if !t.insecure {
		return nil, errors.New("give -cacert F or -insecure for an https URL")
	}
	return cfg, nil
}

// limiter spaces events at most rate per second across all goroutines
// (a token bucket of depth one): ramps and reconnects stay bounded.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return &limiter{}
	}
	return &limiter{interval: time.Duration(float64(time.Second) / perSecond)}
}

// wait blocks until the caller's turn; false when ctx ended first.
func (l *limiter) wait(ctx context.Context) bool {
	if l.interval == 0 {
		return ctx.Err() == nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	slot := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	return sleepCtx(ctx, time.Until(slot))
}

// sleepCtx sleeps d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// latencies collects durations and summarizes them in milliseconds.
type latencies []time.Duration

type latencySummary struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// percentile by nearest rank of sorted values.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(l)))) - 1
	if rank < 0 {
		rank = 0
	}
	return l[rank]
}

func (l latencies) summary() latencySummary {
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return latencySummary{P50: ms(l.percentile(50)), P99: ms(l.percentile(99)), Max: ms(l.percentile(100))}
}

func unixMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
