// trivydb-writer: writes a minimal Trivy vulnerability DB (schema v2) for offline tests.
//
// Usage: trivydb-writer -cache-dir DIR -spec spec.json
// Produces DIR/db/trivy.db (BoltDB) and DIR/db/metadata.json, so that trivy can scan offline
// (`--skip-db-update --cache-dir DIR`). Test support only: cleanpipe's tests generate the spec
// from the OSV fixtures, so trivy and cleanpipe's own scanner see the same advisories.
//
// Spec format (JSON): {"entries":[{"path":["bucket","nested",...],"key":"K","value":<any JSON>}]}
// Each entry creates the nested buckets in "path" and puts key -> JSON(value).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

type entry struct {
	Path  []string        `json:"path"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type spec struct {
	Entries []entry `json:"entries"`
}

func main() {
	cacheDir := flag.String("cache-dir", "", "trivy cache dir (DB goes to DIR/db)")
	specPath := flag.String("spec", "", "JSON spec file")
	flag.Parse()
	if *cacheDir == "" || *specPath == "" {
		fmt.Fprintln(os.Stderr, "-cache-dir and -spec are required")
		os.Exit(2)
	}
	raw, err := os.ReadFile(*specPath)
	if err != nil {
		fail(err)
	}
	var s spec
	if err := json.Unmarshal(raw, &s); err != nil {
		fail(err)
	}
	dbDir := filepath.Join(*cacheDir, "db")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		fail(err)
	}
	dbPath := filepath.Join(dbDir, "trivy.db")
	_ = os.Remove(dbPath)
	db, err := bolt.Open(dbPath, 0o644, nil)
	if err != nil {
		fail(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, e := range s.Entries {
			if len(e.Path) == 0 {
				return fmt.Errorf("entry %q has empty path", e.Key)
			}
			b, err := tx.CreateBucketIfNotExists([]byte(e.Path[0]))
			if err != nil {
				return err
			}
			for _, p := range e.Path[1:] {
				if b, err = b.CreateBucketIfNotExists([]byte(p)); err != nil {
					return err
				}
			}
			if err := b.Put([]byte(e.Key), e.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
	if err := db.Close(); err != nil {
		fail(err)
	}
	now := time.Now().UTC()
	meta := map[string]interface{}{
		"Version":      2,
		"NextUpdate":   now.Add(24 * time.Hour * 365),
		"UpdatedAt":    now,
		"DownloadedAt": now,
	}
	mb, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dbDir, "metadata.json"), mb, 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("wrote %s and %s\n", dbPath, filepath.Join(dbDir, "metadata.json"))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
