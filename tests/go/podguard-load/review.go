package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// review: an API-server-like client. The API server calls webhooks with
// Go's net/http: HTTP/1.1 keep-alive connections, a timeout per call, and a
// POST is never retried once any of it was written (the transport only
// resends a request it could not write at all). Every failure is counted
// by class, and the client keeps going until -duration ends.

type reviewSummary struct {
	Command        string           `json:"command"`
	URL            string           `json:"url"`
	Conns          int              `json:"conns"`
	DurationS      float64          `json:"duration_s"`
	Sent           int64            `json:"sent"`
	OK             int64            `json:"ok"`
	Failed         int64            `json:"failed"`
	Failures       map[string]int64 `json:"failures"`
	NonRefused     int64            `json:"failed_not_refused"`
	AnsweredRatio  float64          `json:"answered_ratio"`
	Allowed        int64            `json:"allowed"`
	Denied         int64            `json:"denied"`
	BadBodies      int64            `json:"bad_bodies"`
	ReviewsPerS    float64          `json:"reviews_per_s"`
	Latency        latencySummary   `json:"latency"`
	FirstUnixMs    int64            `json:"first_sent_unix_ms"`
	LastOKUnixMs   int64            `json:"last_ok_unix_ms"`
	FirstFailMs    int64            `json:"first_failure_unix_ms"`
	FirstRefusedMs int64            `json:"first_refused_unix_ms"`
	NewConns       int64            `json:"new_connections"`
	ErrorSamples   []string         `json:"error_samples,omitempty"`
}

type reviewer struct {
	client        *http.Client
	url           string
	body          []byte
	rate          *limiter
	maxRequests   int64
	stopOnRefused bool

	mu       sync.Mutex
	sum      reviewSummary
	lat      latencies
	samples  map[string]bool
	newConns int64
}

func runReview(ctx context.Context, args []string) (any, error) {
	fs := newFlags("review")
	rawURL := fs.String("url", "", "webhook URL, https://127.0.0.1:PORT/validate")
	bodyFile := fs.String("body", "", "AdmissionReview to POST")
	conns := fs.Int("conns", 32, "connections, each with one request at a time")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	rate := fs.Float64("rate", 0, "requests per second overall, at most (0: each connection sends as soon as answered)")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of one request")
	maxRequests := fs.Int64("max-requests", 5000000, "requests in all, at most")
	stopOnRefused := fs.Bool("stop-on-refused", false, "a connection's loop stops once a connection is refused (the server is gone)")
	var tf tlsFlags
	tf.register(fs)
	u, err := parseWithURL(fs, args, rawURL)
	if err != nil {
		return nil, err
	}
	if *conns < 1 || *conns > 4096 || *duration <= 0 || *duration > time.Hour || *timeout <= 0 {
		return nil, fmt.Errorf("need 1 <= -conns <= 4096, 0 < -duration <= 1h, -timeout > 0")
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return nil, err
	}
	r := &reviewer{
		url: *rawURL, body: body, rate: newLimiter(*rate), maxRequests: *maxRequests,
		stopOnRefused: *stopOnRefused, samples: map[string]bool{},
	}
	transport, err := tf.http11(u, &http.Transport{
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         r.countingDial,
	})
	if err != nil {
		return nil, err
	}
	r.client = &http.Client{Transport: transport, Timeout: *timeout}
	defer transport.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(*conns)
	for i := 0; i < *conns; i++ {
		go func() {
			defer wg.Done()
			r.loop(ctx)
		}()
	}
	wg.Wait()

	s := r.sum
	s.Command, s.URL, s.Conns = "review", *rawURL, *conns
	s.DurationS = time.Since(start).Seconds()
	s.Latency = r.lat.summary()
	s.NewConns = r.newConns
	for class, n := range s.Failures {
		s.Failed += n
		if class != "refused" {
			s.NonRefused += n
		}
	}
	if s.Sent > 0 {
		s.AnsweredRatio = float64(s.OK) / float64(s.Sent)
	}
	s.ReviewsPerS = float64(s.OK) / s.DurationS
	for sample := range r.samples {
		s.ErrorSamples = append(s.ErrorSamples, sample)
	}
	sort.Strings(s.ErrorSamples)
	return s, nil
}

func (r *reviewer) countingDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		r.mu.Lock()
		r.newConns++
		r.mu.Unlock()
	}
	return conn, err
}

// loop sends reviews one after another until ctx ends (or, with
// -stop-on-refused, until a connection is refused).
func (r *reviewer) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if !r.rate.wait(ctx) || !r.take() {
			return
		}
		class := r.once(ctx)
		if class == "refused" && r.stopOnRefused {
			return
		}
		if class != "" {
			sleepCtx(ctx, 10*time.Millisecond) // no hot loop against a server that is gone
		}
	}
}

// take counts a request about to be sent; false past -max-requests.
func (r *reviewer) take() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sum.Sent >= r.maxRequests {
		return false
	}
	r.sum.Sent++
	if r.sum.FirstUnixMs == 0 {
		r.sum.FirstUnixMs = time.Now().UnixMilli()
	}
	return true
}

// once sends one review; returns its failure class, "" when it succeeded.
func (r *reviewer) once(ctx context.Context) string {
	// The request does not carry ctx: a request in flight when -duration
	// ends is answered (or times out) as any other, not cancelled.
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		return r.fail("other", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return r.fail(classify(err), err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return r.fail(classify(err), err)
	}
	if resp.StatusCode != http.StatusOK {
		return r.fail(fmt.Sprintf("status_%d", resp.StatusCode), fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, data))
	}
	var review struct {
		Response *struct {
			Allowed bool `json:"allowed"`
		} `json:"response"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.OK++
	r.sum.LastOKUnixMs = time.Now().UnixMilli()
	r.lat = append(r.lat, elapsed)
	switch {
	case json.Unmarshal(data, &review) != nil || review.Response == nil:
		r.sum.BadBodies++
	case review.Response.Allowed:
		r.sum.Allowed++
	default:
		r.sum.Denied++
	}
	return ""
}

func (r *reviewer) fail(class string, err error) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sum.Failures == nil {
		r.sum.Failures = map[string]int64{}
	}
	r.sum.Failures[class]++
	now := time.Now().UnixMilli()
	if r.sum.FirstFailMs == 0 {
		r.sum.FirstFailMs = now
	}
	if class == "refused" && r.sum.FirstRefusedMs == 0 {
		r.sum.FirstRefusedMs = now
	}
	if sample := class + ": " + err.Error(); len(r.samples) < 8 && !r.samples[sample] {
		r.samples[sample] = true
		fmt.Fprintf(os.Stderr, "review: %s\n", sample)
	}
	return class
}

// classify names the failure of a request that got no HTTP answer.
func classify(err error) string {
	// Some of net/http's errors keep only the text of the cause
	// ("transport connection broken: %v"), hence the text matches.
	var netErr net.Error
	text := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), strings.HasSuffix(text, "connection refused"):
		return "refused" // the listener is closed
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		strings.HasSuffix(text, "connection reset by peer"), strings.HasSuffix(text, "broken pipe"):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.HasSuffix(text, "EOF"),
		strings.Contains(text, "server closed idle connection"):
		return "eof" // the server closed the connection without an answer
	}
	return "other"
}
