// oidc-issuer: a small OpenID Connect issuer for cleanpipe's keyless tests, on loopback only.
//
// It serves two issuers under one address, each with its own ES256 key:
//
//	/email   tokens with email claims (Fulcio issuer type "email")
//	/github  tokens with GitHub Actions workflow claims (Fulcio issuer type "github-workflow")
//
// Per issuer:
//
//	GET /ISSUER/.well-known/openid-configuration   discovery (what Fulcio reads)
//	GET /ISSUER/jwks                               the issuer's public key
//	GET /ISSUER/mint?aud=A&ttl=S&claims=JSON&forged=1
//	    a signed token for audience A (default "sigstore"), valid for S seconds (negative:
//	    already expired), with the default claims overridden by the JSON object; forged=1 signs
//	    with a key the issuer never published
//	GET /ISSUER/actions?audience=A                 GitHub Actions' token request shape: needs
//	    "Authorization: Bearer <-request-token>", answers {"value": TOKEN}
//
// The listening URL is written to -url-file once the socket is bound.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

type issuer struct {
	name     string
	key      *ecdsa.PrivateKey
	forgery  *ecdsa.PrivateKey
	defaults func(base string) map[string]any
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func keyID(k *ecdsa.PublicKey) string {
	sum := sha256.Sum256(append(k.X.Bytes(), k.Y.Bytes()...))
	return b64(sum[:8])
}

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	n.FillBytes(out)
	return out
}

// sign makes a compact JWS (ES256) over the claims.
func sign(key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": keyID(&key.PublicKey)})
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(body)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(append(pad32(r), pad32(s)...)), nil
}

func emailDefaults(string) map[string]any {
	return map[string]any{"sub": "dev@example.test", "email": "dev@example.test", "email_verified": true}
}

// githubDefaults are the claims Fulcio's github-workflow issuer requires, shaped like a real
// GitHub Actions token for acme/app's release workflow on main.
func githubDefaults(string) map[string]any {
	return map[string]any{
		"sub":                   "repo:acme/app:ref:refs/heads/main",
		"repository":            "acme/app",
		"repository_id":         "1001",
		"repository_owner":      "acme",
		"repository_owner_id":   "2002",
		"repository_visibility": "public",
		"ref":                   "refs/heads/main",
		"sha":                   "0123456789abcdef0123456789abcdef01234567",
		"event_name":            "push",
		"workflow":              "release",
		"workflow_ref":          "acme/app/.github/workflows/release.yml@refs/heads/main",
		"workflow_sha":          "0123456789abcdef0123456789abcdef01234567",
		"job_workflow_ref":      "acme/app/.github/workflows/release.yml@refs/heads/main",
		"job_workflow_sha":      "0123456789abcdef0123456789abcdef01234567",
		"runner_environment":    "github-hosted",
		"run_id":                "42",
		"run_attempt":           "1",
	}
}

func (iss *issuer) token(base string, q map[string]string) (string, error) {
	claims := iss.defaults(base)
	if raw := q["claims"]; raw != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(raw), &extra); err != nil {
			return "", fmt.Errorf("claims: %w", err)
		}
		for k, v := range extra {
			claims[k] = v
		}
	}
	ttl := 600
	if raw := q["ttl"]; raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			return "", fmt.Errorf("ttl: %w", err)
		}
		ttl = n
	}
	aud := q["aud"]
	if aud == "" {
		aud = "sigstore"
	}
	now := time.Now()
	issuedAt := now
	if ttl < 0 {
		issuedAt = now.Add(time.Duration(ttl-60) * time.Second)
	}
	claims["iss"] = base + "/" + iss.name
	claims["aud"] = aud
	claims["iat"] = issuedAt.Unix()
	claims["nbf"] = issuedAt.Unix()
	claims["exp"] = now.Add(time.Duration(ttl) * time.Second).Unix()
	key := iss.key
	if q["forged"] == "1" {
		key = iss.forgery
	}
	return sign(key, claims)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	urlFile := flag.String("url-file", "", "write the base URL here once listening")
	requestToken := flag.String("request-token", "", "bearer token the /actions endpoint requires")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	issuers := map[string]*issuer{}
	for name, defaults := range map[string]func(string) map[string]any{"email": emailDefaults, "github": githubDefaults} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forgery, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		issuers[name] = &issuer{name: name, key: key, forgery: forgery, defaults: defaults}
	}

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
		iss, ok := issuers[parts[0]]
		if !ok || len(parts) != 2 {
			http.NotFound(w, r)
			return
		}
		query := map[string]string{}
		for k, v := range r.URL.Query() {
			query[k] = v[0]
		}
		self := base + "/" + iss.name
		w.Header().Set("Content-Type", "application/json")
		switch parts[1] {
		case ".well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{
				"issuer":                                self,
				"jwks_uri":                              self + "/jwks",
				"authorization_endpoint":                self + "/auth",
				"token_endpoint":                        self + "/token",
				"response_types_supported":              []string{"id_token"},
				"subject_types_supported":               []string{"public"},
				"id_token_signing_alg_values_supported": []string{"ES256"},
			})
		case "jwks":
			pub := iss.key.PublicKey
			json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
				"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": keyID(&pub),
				"x": b64(pad32(pub.X)), "y": b64(pad32(pub.Y)),
			}}})
		case "mint":
			tok, err := iss.token(base, query)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, tok)
		case "actions":
			if *requestToken == "" || r.Header.Get("Authorization") != "Bearer "+*requestToken {
				http.Error(w, `{"message":"bad request token"}`, http.StatusUnauthorized)
				return
			}
			query["aud"] = query["audience"]
			tok, err := iss.token(base, query)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"value": tok})
		default:
			http.NotFound(w, r)
		}
	})

	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(base+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("oidc-issuer at %s (issuers: %s/email, %s/github)", base, base, base)
	log.Fatal(http.Serve(ln, nil))
}
