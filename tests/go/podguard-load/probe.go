package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// probe: what the kubelet does for an httpGet probe, a GET on a new
// connection each time with a 1 s timeout, repeated every interval. The
// summary counts the answers by status (or failure class) and lists when
// the answer changed, in Unix milliseconds (a /readyz turning 503 on
// SIGTERM, say).

type probeSummary struct {
	Command     string           `json:"command"`
	URL         string           `json:"url"`
	DurationS   float64          `json:"duration_s"`
	Probes      int64            `json:"probes"`
	OK          int64            `json:"ok"`
	Failed      int64            `json:"failed"`
	Results     map[string]int64 `json:"results"`
	Latency     latencySummary   `json:"latency"`
	Transitions []transition     `json:"transitions"`
}

type transition struct {
	UnixMs int64  `json:"unix_ms"`
	Result string `json:"result"`
}

func runProbe(ctx context.Context, args []string) (any, error) {
	fs := newFlags("probe")
	rawURL := fs.String("url", "", "URL to GET, e.g. https://127.0.0.1:PORT/healthz")
	interval := fs.Duration("interval", 200*time.Millisecond, "time from one probe's start to the next")
	duration := fs.Duration("duration", 10*time.Second, "how long to probe")
	timeout := fs.Duration("timeout", time.Second, "timeout of one probe")
	maxProbes := fs.Int64("max-probes", 100000, "probes in all, at most")
	var tf tlsFlags
	tf.register(fs)
	u, err := parseWithURL(fs, args, rawURL)
	if err != nil {
		return nil, err
	}
	if *interval <= 0 || *duration <= 0 || *duration > time.Hour || *timeout <= 0 {
		return nil, fmt.Errorf("need -interval > 0, 0 < -duration <= 1h, -timeout > 0")
	}
	transport, err := tf.http11(u, &http.Transport{DisableKeepAlives: true})
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: transport, Timeout: *timeout}

	s := probeSummary{Command: "probe", URL: *rawURL, Results: map[string]int64{}, Transitions: []transition{}}
	var lat latencies
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	start := time.Now()
	for next := start; ctx.Err() == nil && s.Probes < *maxProbes; {
		if !sleepCtx(ctx, time.Until(next)) {
			break
		}
		next = next.Add(*interval)
		began := time.Now()
		result := probeOnce(client, *rawURL)
		elapsed := time.Since(began)
		s.Probes++
		lat = append(lat, elapsed)
		s.Results[result]++
		if result == "200" {
			s.OK++
		} else {
			s.Failed++
		}
		if n := len(s.Transitions); n == 0 || s.Transitions[n-1].Result != result {
			s.Transitions = append(s.Transitions, transition{UnixMs: began.UnixMilli(), Result: result})
		}
	}
	s.DurationS = time.Since(start).Seconds()
	s.Latency = lat.summary()
	return s, nil
}

// probeOnce returns the HTTP status ("200", "503") or the failure class.
func probeOnce(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return classify(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return classify(err)
	}
	return strconv.Itoa(resp.StatusCode)
}
