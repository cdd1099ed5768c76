// Command referrers-registry is a test peer for cleanpipe: an in-memory OCI registry that
// implements the OCI 1.1 referrers API, listening on a loopback address only.
//
// It serves go-containerregistry's pkg/registry with referrers support enabled. That package
// (v0.22.1) stops short of the distribution spec in three places, which this program fills in
// front of it unless -raw is given:
//
//   - a manifest PUT whose body has a `subject` is answered with an `OCI-Subject: <digest>`
//     header (the package sends none, so spec-following clients would also write the
//     `sha256-<hex>` fallback tag);
//   - each descriptor in a referrers answer carries the manifest's own `artifactType`, and the
//     config media type only when the manifest has none (the package always uses the config
//     media type, which for cosign bundles is `application/vnd.oci.empty.v1+json`);
//   - `?artifactType=X` filters the answer and sets `OCI-Filters-Applied: artifactType`, and a
//     repository the registry has never seen answers an empty index, not 404 (the spec forbids a
//     404 from a registry that supports the API).
//
// Descriptors are sorted by digest so answers are stable. Every request is logged to stderr as
// one line: `access METHOD URI STATUS`.
//
// Usage: referrers-registry -addr 127.0.0.1:PORT [-raw] [-header NAME=VALUE]...
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

const ociIndex = "application/vnd.oci.image.index.v1+json"

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ",") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:5001", "loopback address to listen on (port 0 picks a free one)")
	raw := flag.Bool("raw", false, "serve pkg/registry as it is, without the spec fixes")
	var headers headerFlags
	flag.Var(&headers, "header", "NAME=VALUE added to every response (repeatable)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("-addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("-addr %q: only loopback addresses are allowed", *addr)
	}
	extra := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			log.Fatalf("-header %q: want NAME=VALUE", h)
		}
		extra.Add(name, value)
	}

	inner := registry.New(
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(io.Discard, "", 0)),
	)
	var handler http.Handler = inner
	if !*raw {
		handler = &specFixes{inner: inner}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("listening on %s (raw=%v)", ln.Addr(), *raw)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, vs := range extra {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			handler.ServeHTTP(sw, r)
			log.Printf("access %s %s %d", r.Method, r.URL.RequestURI(), sw.status)
		}),
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// splitPath splits `/v2/<repo>/<kind>/<ref>` for kind "manifests" or "referrers".
func splitPath(path, kind string) (repo, ref string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/"+kind+"/")
	if i <= 0 {
		return "", "", false
	}
	ref = rest[i+len(kind)+2:]
	if ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	return rest[:i], ref, true
}

type specFixes struct {
	inner http.Handler
}

func (s *specFixes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		if _, _, ok := splitPath(r.URL.Path, "manifests"); ok {
			s.putManifest(w, r)
			return
		}
	}
	if r.Method == http.MethodGet {
		if repo, dgst, ok := splitPath(r.URL.Path, "referrers"); ok {
			s.referrers(w, r, repo, dgst)
			return
		}
	}
	s.inner.ServeHTTP(w, r)
}

func (s *specFixes) putManifest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	var m struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	subject := ""
	if json.Unmarshal(body, &m) == nil && m.Subject != nil {
		subject = m.Subject.Digest
	}
	s.inner.ServeHTTP(&subjectWriter{ResponseWriter: w, subject: subject}, r)
}

// subjectWriter adds OCI-Subject to a successful (201) manifest PUT answer.
type subjectWriter struct {
	http.ResponseWriter
	subject string
}

func (s *subjectWriter) WriteHeader(code int) {
	if code == http.StatusCreated && s.subject != "" {
		s.Header().Set("OCI-Subject", s.subject)
	}
	s.ResponseWriter.WriteHeader(code)
}

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// call runs the inner handler on a request of our own and returns its recorded answer.
func (s *specFixes) call(method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func (s *specFixes) referrers(w http.ResponseWriter, r *http.Request, repo, dgst string) {
	rec := s.call(http.MethodGet, r.URL.Path)
	idx := index{SchemaVersion: 2, MediaType: ociIndex, Manifests: []descriptor{}}
	switch {
	case rec.Code == http.StatusOK:
		if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
			http.Error(w, "inner referrers answer: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if idx.Manifests == nil {
			idx.Manifests = []descriptor{}
		}
	case rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), "NAME_UNKNOWN"):
		// A repository nobody pushed to: no referrers, and still not a 404.
	default:
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}

	for i := range idx.Manifests {
		d := &idx.Manifests[i]
		m := s.call(http.MethodGet, "/v2/"+repo+"/manifests/"+d.Digest)
		if m.Code != http.StatusOK {
			continue
		}
		var own struct {
			ArtifactType string `json:"artifactType"`
		}
		if json.Unmarshal(m.Body.Bytes(), &own) == nil && own.ArtifactType != "" {
			d.ArtifactType = own.ArtifactType
		}
	}

	if want := r.URL.Query()["artifactType"]; len(want) > 0 {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			for _, t := range want {
				if d.ArtifactType == t {
					kept = append(kept, d)
					break
				}
			}
		}
		idx.Manifests = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	sort.Slice(idx.Manifests, func(i, j int) bool { return idx.Manifests[i].Digest < idx.Manifests[j].Digest })

	out, err := json.Marshal(idx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ociIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}
