package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// trickle: N connections, each sending a request one byte every interval,
// reconnecting when the server closes it. It measures how the server
// treats slow clients; the summary says how often it closed them.

type trickleSummary struct {
	Command         string         `json:"command"`
	Addr            string         `json:"addr"`
	TLS             bool           `json:"tls"`
	Conns           int            `json:"conns"`
	DurationS       float64        `json:"duration_s"`
	RampMs          float64        `json:"ramp_ms"`
	Connects        int64          `json:"connects"`
	DialErrors      int64          `json:"dial_errors"`
	HandshakeErrors int64          `json:"handshake_errors"`
	ServerCloses    int64          `json:"server_closes"`
	Answered        int64          `json:"answered_closes"`
	BytesSent       int64          `json:"bytes_sent"`
	MaxOpen         int64          `json:"max_open"`
	OpenAtEnd       int64          `json:"open_at_end"`
	Lifetime        latencySummary `json:"closed_conn_lifetime"`
	NoFile          uint64         `json:"rlimit_nofile"`
}

type trickler struct {
	addr      string
	tlsConfig *tls.Config
	interval  time.Duration
	request   []byte
	ramp      *limiter
	reconnect *limiter

	connects, dialErrors, handshakeErrors, serverCloses, answered int64
	bytesSent, open, maxOpen                                      int64

	mu        sync.Mutex
	lifetimes latencies
}

func runTrickle(ctx context.Context, args []string) (any, error) {
	fs := newFlags("trickle")
	addr := fs.String("addr", "", "server address, HOST:PORT (loopback only)")
	useTLS := fs.Bool("tls", false, "TLS (certificate not verified) before the request")
	conns := fs.Int("conns", 1500, "connections to keep open")
	interval := fs.Duration("interval", 5*time.Second, "time between two bytes on a connection")
	duration := fs.Duration("duration", 30*time.Second, "how long the attack lasts")
	rampRate := fs.Float64("ramp-rate", 500, "first connections opened per second, at most")
	reconnectRate := fs.Float64("reconnect-rate", 400, "reconnections per second overall, at most (1,500 connections cut after 5 s need 300)")
	method := fs.String("method", "POST", "POST (a /validate request with a body) or GET")
	path := fs.String("path", "", "request path (default /validate for POST, /healthz for GET)")
	fs.Parse(args)
	if err := checkLoopback(*addr); err != nil {
		return nil, err
	}
	if *conns < 1 || *conns > 20000 || *interval <= 0 || *duration <= 0 || *duration > time.Hour {
		return nil, fmt.Errorf("need 1 <= -conns <= 20000, -interval > 0, 0 < -duration <= 1h")
	}
	nofile, err := raiseNoFile(uint64(*conns) + 64)
	if err != nil {
		return nil, err
	}
	t := &trickler{
		addr:      *addr,
		interval:  *interval,
		request:   trickleRequest(strings.ToUpper(*method), *path),
		ramp:      newLimiter(*rampRate),
		reconnect: newLimiter(*reconnectRate),
	}
	if *useTLS {
		t.tlsConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}

	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	start := time.Now()
	var wg, ramp sync.WaitGroup
	wg.Add(*conns)
	ramp.Add(*conns)
	for i := 0; i < *conns; i++ {
		go func() {
			defer wg.Done()
			t.slot(ctx, &ramp)
		}()
	}
	var rampMs float64
	rampDone := make(chan struct{})
	go func() {
		ramp.Wait()
		rampMs = float64(time.Since(start).Microseconds()) / 1e3
		fmt.Fprintf(os.Stderr, "trickle: ramp done after %.0f ms, %d open\n", rampMs, atomic.LoadInt64(&t.open))
		close(rampDone)
	}()
	t.report(ctx, start)
	wg.Wait()
	<-rampDone

	t.mu.Lock()
	defer t.mu.Unlock()
	return trickleSummary{
		Command: "trickle", Addr: *addr, TLS: *useTLS, Conns: *conns,
		DurationS: time.Since(start).Seconds(), RampMs: rampMs,
		Connects: t.connects, DialErrors: t.dialErrors, HandshakeErrors: t.handshakeErrors,
		ServerCloses: t.serverCloses, Answered: t.answered, BytesSent: t.bytesSent,
		MaxOpen: t.maxOpen, OpenAtEnd: t.open, Lifetime: t.lifetimes.summary(), NoFile: nofile,
	}, nil
}

// trickleRequest is what each connection sends, a byte at a time: a
// request head and, for POST, a body, repeated if it ever gets through.
func trickleRequest(method, path string) []byte {
	if path == "" {
		path = map[bool]string{true: "/healthz", false: "/validate"}[method == "GET"]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: podguard.podguard.svc:443\r\nUser-Agent: podguard-load-trickle\r\n", method, path)
	if method == "GET" {
		b.WriteString("\r\n")
		return []byte(b.String())
	}
	const body = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}}`
	fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// report writes the state to stderr every 5 s until ctx ends.
func (t *trickler) report(ctx context.Context, start time.Time) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "trickle: %3.0f s: %d open, %d connects, %d closed by the server, %d dial and %d handshake errors\n",
				time.Since(start).Seconds(), atomic.LoadInt64(&t.open), atomic.LoadInt64(&t.connects),
				atomic.LoadInt64(&t.serverCloses), atomic.LoadInt64(&t.dialErrors), atomic.LoadInt64(&t.handshakeErrors))
		}
	}
}

// slot keeps one trickling connection open until ctx ends: the first one
// paced by the ramp, every reconnection by the reconnect limiter.
func (t *trickler) slot(ctx context.Context, ramp *sync.WaitGroup) {
	lim, first := t.ramp, true
	defer func() {
		if first {
			ramp.Done()
		}
	}()
	for ctx.Err() == nil {
		if !lim.wait(ctx) {
			return
		}
		conn, err := t.dial(ctx)
		if first {
			first = false
			ramp.Done()
		}
		lim = t.reconnect
		if err != nil {
			sleepCtx(ctx, 200*time.Millisecond) // the limiter bounds the rate; this spaces one slot's retries
			continue
		}
		t.trickleOn(ctx, conn)
	}
}

func (t *trickler) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		atomic.AddInt64(&t.dialErrors, 1)
		return nil, err
	}
	if t.tlsConfig != nil {
		tc := tls.Client(conn, t.tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			atomic.AddInt64(&t.handshakeErrors, 1)
			return nil, err
		}
		conn = tc
	}
	atomic.AddInt64(&t.connects, 1)
	open := atomic.AddInt64(&t.open, 1)
	for {
		max := atomic.LoadInt64(&t.maxOpen)
		if open <= max || atomic.CompareAndSwapInt64(&t.maxOpen, max, open) {
			break
		}
	}
	return conn, nil
}

// countingDiscard counts what the server sends (a 408, say) and drops it.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// trickleOn sends the request a byte per interval until the server closes
// the connection (read EOF or error, or a failed write) or ctx ends.
func (t *trickler) trickleOn(ctx context.Context, conn net.Conn) {
	defer atomic.AddInt64(&t.open, -1)
	closed := make(chan struct{})
	var received countingDiscard
	go func() {
		io.Copy(&received, conn)
		close(closed)
	}()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	serverClosed := func() {
		conn.Close()
		<-closed
		atomic.AddInt64(&t.serverCloses, 1)
		if received.n > 0 {
			atomic.AddInt64(&t.answered, 1)
		}
		t.mu.Lock()
		if len(t.lifetimes) < 1<<20 {
			t.lifetimes = append(t.lifetimes, time.Since(start))
		}
		t.mu.Unlock()
	}
	for i := 0; ; i++ {
		if _, err := conn.Write(t.request[i%len(t.request) : i%len(t.request)+1]); err != nil {
			serverClosed()
			return
		}
		atomic.AddInt64(&t.bytesSent, 1)
		timer.Reset(t.interval)
		select {
		case <-closed:
			serverClosed()
			return
		case <-ctx.Done():
			conn.Close()
			<-closed
			return
		case <-timer.C:
		}
	}
}

// raiseNoFile makes sure the soft RLIMIT_NOFILE allows need descriptors
// (Go 1.19 already raises it to the hard limit at start) and returns it.
func raiseNoFile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < need && lim.Max > lim.Cur {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("open files limit %d is under the %d needed (raise the hard limit: ulimit -Hn)", lim.Cur, need)
	}
	return lim.Cur, nil
}
