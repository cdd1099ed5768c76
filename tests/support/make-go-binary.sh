#!/usr/bin/env bash
# Build a small Go binary with embedded module build info, fully offline.
#   make-go-binary.sh OUTDIR   ->  OUTDIR/cleanpipe-gotest
# Main module example.com/cleanpipe-gotest depends on:
#   example.com/greet  v1.4.2  replaced by the local directory ./greet  ("=>" line in build info)
#   example.com/colour v0.3.1  NOT replaced: served from a file:// GOPROXY made here
#                              (build info carries its h1: hash like any real dependency)
# Needs: go (>= 1.18 for -buildvcs/build info format; Debian 12 golang-go 1.19 works), python3.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
command -v go >/dev/null || { echo "go not found (apt-get install golang-go)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# --- the non-replaced dependency, as a module zip in a file:// proxy ---
mkdir -p "$tmp/src/colour"
cat > "$tmp/src/colour/go.mod" <<'G'
module example.com/colour

go 1.19
G
cat > "$tmp/src/colour/colour.go" <<'G'
package colour

// Paint wraps s in brackets.
func Paint(s string) string { return "[" + s + "]" }
G
proxy="$tmp/proxy/example.com/colour/@v"
mkdir -p "$proxy"
echo v0.3.1 > "$proxy/list"
echo '{"Version":"v0.3.1","Time":"2024-01-02T03:04:05Z"}' > "$proxy/v0.3.1.info"
cp "$tmp/src/colour/go.mod" "$proxy/v0.3.1.mod"
python3 - "$tmp/src/colour" "$proxy/v0.3.1.zip" <<'P'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        z.write(os.path.join(src, name), "example.com/colour@v0.3.1/" + name)
P

# --- the main module with a replaced local library ---
m="$tmp/mod"
mkdir -p "$m/greet"
cat > "$m/greet/go.mod" <<'G'
module example.com/greet

go 1.19
G
cat > "$m/greet/greet.go" <<'G'
package greet

// Hello returns a greeting.
func Hello(name string) string { return "hello, " + name }
G
cat > "$m/go.mod" <<'G'
module example.com/cleanpipe-gotest

go 1.19

require (
	example.com/colour v0.3.1
	example.com/greet v1.4.2
)

replace example.com/greet => ./greet
G
cat > "$m/main.go" <<'G'
package main

import (
	"fmt"

	"example.com/colour"
	"example.com/greet"
)

func main() { fmt.Println(colour.Paint(greet.Hello("cleanpipe"))) }
G

export GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod" GOCACHE="$tmp/gocache"
export GOPROXY="file://$tmp/proxy" GOSUMDB=off GONOSUMDB='*' GOPRIVATE= GOFLAGS=-mod=mod
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64
cd "$m"
# writes go.sum from the file proxy; no network
go mod tidy 2>"$tmp/tidy.log" || { cat "$tmp/tidy.log" >&2; exit 1; }
go build -trimpath -buildvcs=false -o "$out/cleanpipe-gotest" .
echo "$out/cleanpipe-gotest"
