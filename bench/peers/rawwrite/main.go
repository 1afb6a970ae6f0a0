// Command rawwrite measures the apiserver's raw write rate on this machine,
// the limit a controller's write rate is compared with (DESIGN.md section 8):
// W workers, each on its own keep-alive HTTP/1.1 connection (as the
// controller's workers), create small ConfigMaps into one namespace until N
// are created, by server-side apply (-mode apply, the default: PATCH with
// application/apply-patch+yaml, as DESIGN section 8 words the limit and as the
// controller writes) or by plain POST (-mode post); prints one line:
// "RAW writes=N seconds=S per_s=R p50_ms p99_ms errors=E workers=W mode=M".
//
// usage: rawwrite -server URL -ca CA -cert CERT -key KEY -namespace NS -n N -workers W [-mode apply|post]
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	server := flag.String("server", "", "apiserver URL")
	ca := flag.String("ca", "", "CA file")
	cert := flag.String("cert", "", "client certificate")
	key := flag.String("key", "", "client key")
	ns := flag.String("namespace", "default", "namespace")
	n := flag.Int("n", 1000, "objects to create")
	workers := flag.Int("workers", 2, "concurrent workers (one connection each)")
	prefix := flag.String("prefix", "raw", "object name prefix")
	mode := flag.String("mode", "apply", "apply (server-side apply) or post")
	flag.Parse()
	if *mode != "apply" && *mode != "post" {
		fmt.Fprintln(os.Stderr, "rawwrite: -mode must be apply or post")
		os.Exit(2)
	}

	pem, err := os.ReadFile(*ca)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, NextProtos: []string{"http/1.1"}},
		MaxIdleConnsPerHost: *workers,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := *server + "/api/v1/namespaces/" + *ns + "/configmaps"

	var next, errs atomic.Int64
	lat := make([][]time.Duration, *workers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s-%06d","labels":{"app":"rawwrite"}},"data":{"k":"v"}}`, *prefix, i)
				s := time.Now()
				var resp *http.Response
				var err error
				if *mode == "post" {
					resp, err = client.Post(url, "application/json", bytes.NewBufferString(body))
				} else {
					req, rerr := http.NewRequest(http.MethodPatch,
						fmt.Sprintf("%s/%s-%06d?fieldManager=rawwrite&force=true", url, *prefix, i),
						bytes.NewBufferString(body))
					if rerr != nil {
						errs.Add(1)
						continue
					}
					req.Header.Set("Content-Type", "application/apply-patch+yaml")
					resp, err = client.Do(req)
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs.Add(1)
				}
				lat[w] = append(lat[w], time.Since(s))
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000
	}
	fmt.Printf("RAW writes=%d seconds=%.2f per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d workers=%d mode=%s\n",
		*n, el, float64(*n)/el, pct(0.5), pct(0.99), errs.Load(), *workers, *mode)
}
