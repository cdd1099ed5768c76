// Command token-server is a test peer for cleanpipe: a minimal Docker registry token server
// (the `auth: token` scheme of CNCF distribution), listening on a loopback address only.
//
// At start it makes a fresh P-256 key and a self-signed certificate for it, and writes the
// certificate (PEM) to -cert-out: give that file to the registry as `rootcertbundle`. Then
//
//	GET /token?service=S&scope=repository:NAME:pull,push[&scope=…]
//
// with HTTP Basic credentials equal to $TOKEN_SERVER_USER / $TOKEN_SERVER_PASSWORD answers
// {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC3339}: an ES256 JWT whose
// header carries the certificate as `x5c`, with iss = -issuer, aud = S (which must equal
// -service), sub = the user, and every requested action granted. Missing or wrong credentials
// get 401 with `WWW-Authenticate: Basic`. The credentials come from the environment so that
// they do not show in the process list.
//
// Every request is logged to stderr as one line: `access METHOD URI STATUS`.
//
// Usage: TOKEN_SERVER_USER=u TOKEN_SERVER_PASSWORD=p token-server -addr 127.0.0.1:PORT \
//
//	-cert-out FILE [-issuer NAME] [-service NAME] [-ttl 5m] [-header NAME=VALUE]...
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ",") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type server struct {
	key      *ecdsa.PrivateKey
	certDER  []byte
	issuer   string
	service  string
	ttl      time.Duration
	user     string
	password string
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5002", "loopback address to listen on (port 0 picks a free one)")
	certOut := flag.String("cert-out", "", "file to write the signing certificate to (PEM; the registry's rootcertbundle)")
	issuer := flag.String("issuer", "cleanpipe-test-token-server", "the tokens' iss (the registry's auth.token.issuer)")
	service := flag.String("service", "cleanpipe-test-registry", "the only service served (the registry's auth.token.service)")
	ttl := flag.Duration("ttl", 5*time.Minute, "token lifetime")
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
	if *certOut == "" {
		log.Fatal("-cert-out is required")
	}
	s := &server{
		issuer:   *issuer,
		service:  *service,
		ttl:      *ttl,
		user:     os.Getenv("TOKEN_SERVER_USER"),
		password: os.Getenv("TOKEN_SERVER_PASSWORD"),
	}
	if s.user == "" || s.password == "" {
		log.Fatal("TOKEN_SERVER_USER and TOKEN_SERVER_PASSWORD must be set")
	}
	extra := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			log.Fatalf("-header %q: want NAME=VALUE", h)
		}
		extra.Add(name, value)
	}

	if err := s.makeKey(); err != nil {
		log.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certDER})
	if err := os.WriteFile(*certOut+".tmp", pemBytes, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*certOut+".tmp", *certOut); err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.Printf("listening on %s (issuer %q, service %q, certificate %s)", ln.Addr(), s.issuer, s.service, *certOut)
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.token)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, vs := range extra {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			mux.ServeHTTP(sw, r)
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

func (s *server) makeKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: s.issuer},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	s.key, s.certDER = key, der
	return nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parseScope splits `TYPE:NAME:ACTIONS`; NAME may itself hold colons (a registry host:port).
func parseScope(scope string) (access, bool) {
	first := strings.Index(scope, ":")
	last := strings.LastIndex(scope, ":")
	if first <= 0 || last == first || last == len(scope)-1 {
		return access{}, false
	}
	return access{
		Type:    scope[:first],
		Name:    scope[first+1 : last],
		Actions: strings.Split(scope[last+1:], ","),
	}, true
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="cleanpipe-test-token-server"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}}})
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "only GET is supported", http.StatusMethodNotAllowed)
		return
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		unauthorized(w, "credentials required")
		return
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(s.password)) == 1
	if !userOK || !passOK {
		unauthorized(w, "wrong user name or password")
		return
	}
	q := r.URL.Query()
	if svc := q.Get("service"); svc != s.service {
		http.Error(w, fmt.Sprintf("unknown service %q", svc), http.StatusBadRequest)
		return
	}
	grants := []access{}
	for _, sc := range q["scope"] {
		// A client may also send several scopes in one parameter, space-separated.
		for _, one := range strings.Fields(sc) {
			a, ok := parseScope(one)
			if !ok {
				http.Error(w, fmt.Sprintf("malformed scope %q", one), http.StatusBadRequest)
				return
			}
			grants = append(grants, a)
		}
	}

	now := time.Now()
	jti := make([]byte, 16)
	rand.Read(jti)
	header := map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}}
	claims := map[string]any{
		"iss":    s.issuer,
		"sub":    user,
		"aud":    s.service,
		"exp":    now.Add(s.ttl).Unix(),
		"nbf":    now.Add(-10 * time.Second).Unix(),
		"iat":    now.Unix(),
		"jti":    hex.EncodeToString(jti),
		"access": grants,
	}
	hj, _ := json.Marshal(header)
	cj, _ := json.Marshal(claims)
	signingInput := b64url(hj) + "." + b64url(cj)
	digest := sha256.Sum256([]byte(signingInput))
	rr, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sig := make([]byte, 64) // JWS ES256: r || s, each 32 bytes big-endian
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	jwt := signingInput + "." + b64url(sig)

	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token":        jwt,
		"access_token": jwt,
		"expires_in":   int(s.ttl.Seconds()),
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}
