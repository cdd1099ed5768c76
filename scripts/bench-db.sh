#!/usr/bin/env bash
# Benchmark: `cleanpipe db update`, cold (an empty directory: five archives fetched, checked and
# swapped in) and warm (five conditional requests answered 304).
#
# Usage:
#   scripts/bench-db.sh [--records N] [--runs N] [--cleanpipe BIN]
#
#   --records N      OSV records generated for every ecosystem (or $RECORDS; for a smoke run).
#                    Default: realistic counts per ecosystem, of the order osv.dev publishes:
#                    Debian 50000, PyPI 20000, npm 15000, Maven 8000, Alpine 5000.
#   --runs N         timed runs of each (default 5, or $RUNS)
#   --cleanpipe BIN  default $CLEANPIPE, else target/release/cleanpipe (built if missing)
#
# Generated archives for Debian, Alpine, PyPI, npm and Maven (records shaped like osv.dev's, one
# affected package each, with ranges, aliases and a CVSS vector; its affected versions listed, and
# prose drawn from a vocabulary so they compress like real text) are served on loopback by
# tests/support/osv_mirror.py (ETag, Last-Modified, 304s). A cold run updates into a fresh
# directory; a warm run updates the directory the last cold run filled. Every command must
# succeed. The figures: median wall time and peak RSS of each, the archives' total size, and the
# requests and bytes the warm run cost (from the stand-in's request log).
# Environment: BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

RECORDS=${RECORDS:-}
RUNS=${RUNS:-5}
while (($#)); do
    case "$1" in
    --records) RECORDS=${2:?--records needs a value}; shift ;;
    --runs) RUNS=${2:?--runs needs a value}; shift ;;
    --cleanpipe) CLEANPIPE=${2:?--cleanpipe needs a value}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
find_cleanpipe

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-db.XXXXXX")
MIRROR_PID=""
cleanup() {
    if [[ -n "$MIRROR_PID" ]]; then
        kill "$MIRROR_PID" 2>/dev/null || true
        wait "$MIRROR_PID" 2>/dev/null || true
    fi
    if [[ "${BENCH_KEEP:-}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

[[ -z "$RECORDS" || "$RECORDS" =~ ^[1-9][0-9]*$ ]] || die "--records must be a positive integer (got '$RECORDS')"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer (got '$RUNS')"
# ECOSYSTEM=RECORDS
COUNTS=(Debian=50000 PyPI=20000 npm=15000 Maven=8000 Alpine=5000)
if [[ -n "$RECORDS" ]]; then
    COUNTS=("${COUNTS[@]/%=*/=$RECORDS}")
fi
ECOSYSTEMS=("${COUNTS[@]%%=*}")
log "generating ${#ECOSYSTEMS[@]} archives: ${COUNTS[*]} records"
python3 - "$WORK/root/osv" "${COUNTS[@]}" <<'PY'
import json, os, random, sys, zipfile

out = sys.argv[1]
rng = random.Random(24)
# Prose from a vocabulary, so the archives compress like real advisory text, not like filler.
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11))) for _ in range(3000)]
prose = lambda k: " ".join(rng.choices(words, k=k))
for spec in sys.argv[2:]:
    eco, n = spec.split("=")
    n = int(n)
    os.makedirs(os.path.join(out, eco), exist_ok=True)
    release = {"Debian": ":12", "Alpine": ":v3.19"}.get(eco, "")
    with zipfile.ZipFile(os.path.join(out, eco, "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            rid = f"BENCH-{eco.upper()}-{i:06d}"
            record = {
                "schema_version": "1.6.0",
                "id": rid,
                "modified": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
                "published": "2025-01-01T00:00:00Z",
                "aliases": [f"CVE-2025-{rng.randint(1000, 99999)}"],
                "summary": "generated record: " + prose(8),
                "details": prose(rng.randint(30, 250)),
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                "affected": [{
                    "package": {"ecosystem": eco + release, "name": f"pkg{rng.randint(0, n // 4)}"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}"}]}],
                    # osv.dev lists the affected versions it enumerated too.
                    "versions": [f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 30)}" for _ in range(rng.randint(0, 40))],
                }],
                "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{rid}"}],
            }
            z.writestr(rid + ".json", json.dumps(record, indent=2))
PY
total=$(du -cb "$WORK"/root/osv/*/all.zip | awk 'END { print $1 }')
records=$(IFS=+; echo "$((${COUNTS[*]#*=}))")
sizes=$(for e in "${ECOSYSTEMS[@]}"; do printf '%s %s MiB, ' "$e" "$(mib "$(stat -c %s "$WORK/root/osv/$e/all.zip")")"; done)
log "archives: $(mib "$total") MiB in all (${sizes%, })"

python3 "$ROOT/tests/support/osv_mirror.py" "$WORK/port" "$WORK/root" "$WORK/requests.jsonl" &
MIRROR_PID=$!
for _ in $(seq 1 200); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
[[ -s "$WORK/port" ]] || die "the OSV mirror stand-in did not start"
MIRROR="http://127.0.0.1:$(cat "$WORK/port")/osv"
LIST=$(IFS=,; echo "${ECOSYSTEMS[*]}")

RESULTS="$WORK/results" # "PART RUN TOOL WALL RSS_KIB"
: >"$RESULTS"
timed() { # timed PART RUN DIR
    local tfile="$WORK/time.$1.$2"
    /usr/bin/time -f '%e %M' -o "$tfile" \
        "$CLEANPIPE" -q db update --ecosystems "$LIST" --mirror "$MIRROR" --dir "$3" \
        >"$WORK/log.$1.$2" 2>&1 || { cat "$WORK/log.$1.$2" >&2; die "$1 run $2 failed"; }
    echo "$1 $2 cleanpipe $(cat "$tfile")" >>"$RESULTS"
}
for run in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/db"
    timed cold "$run" "$WORK/db"
done
before=$(wc -l <"$WORK/requests.jsonl")
for run in $(seq 1 "$RUNS"); do
    timed warm "$run" "$WORK/db"
done
warm=$(tail -n +"$((before + 1))" "$WORK/requests.jsonl")
requests=$(printf '%s\n' "$warm" | grep -c . || true)
not_modified=$(printf '%s\n' "$warm" | grep -c '"status": 304' || true)
sent=$(printf '%s\n' "$warm" | python3 -c 'import json,sys; print(sum(json.loads(l)["sent"] for l in sys.stdin if l.strip()))')

cat <<EOF
db update, ${#ECOSYSTEMS[@]} ecosystems (${COUNTS[*]}: $records records), $(mib "$total") MiB of archives on loopback (${sizes%, })
  cleanpipe: $CLEANPIPE; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end
  cold: median $(median cold cleanpipe 4) s, peak RSS $(kib2mib "$(median cold cleanpipe 5)") MiB ($RUNS runs)
  warm: median $(median warm cleanpipe 4) s, peak RSS $(kib2mib "$(median warm cleanpipe 5)") MiB ($RUNS runs)
  warm requests: $requests in $RUNS runs, $not_modified answered 304, $sent body bytes
EOF
