#!/usr/bin/env bash
# Benchmark: keyless signing and verification by identity, cleanpipe against cosign v3, on the
# same local Sigstore instance, registry and image, in the same run.
#
# Usage:
#   scripts/bench-keyless.sh [--runs N] [--cleanpipe BIN] [--cosign BIN]
#
# Needs a running instance from .ci/sigstore-stack (CLEANPIPE_TEST_SIGSTORE_DIR and
# CLEANPIPE_TEST_OIDC_ISSUER, as `. DIR/env` sets them) and a registry with the referrers API
# (CLEANPIPE_TEST_REFERRERS_REGISTRY; .ci/run starts both). umoci and skopeo make the images.
#
# sign:   cleanpipe sign IMG --keyless --signing-config SC --identity-token TOKEN_FILE
#         cosign sign -y --signing-config SC --trusted-root TR --identity-token TOKEN_FILE IMG
#         (a fresh token and a fresh image per run; both: Fulcio certificate, Rekor v2 entry,
#         timestamp, bundle pushed as a referrer)
# verify: cleanpipe verify IMG --trusted-root TR --certificate-identity ID
#           --certificate-oidc-issuer ISS --insecure-ignore-sct
#         cosign verify (the same flags, --allow-insecure-registry) IMG
#         (one image carrying one keyless signature by each tool)
# Runs alternate which side goes first. Printed: the median wall time of each side and the
# ratio cleanpipe/cosign.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1"
RUNS=${RUNS:-7}
CLEANPIPE=${CLEANPIPE:-$ROOT/target/release/cleanpipe}
COSIGN=${COSIGN:-${CLEANPIPE_TEST_COSIGN_V3:-cosign}}
while (($#)); do
    case "$1" in
    --runs) RUNS=$2; shift ;;
    --cleanpipe) CLEANPIPE=$2; shift ;;
    --cosign) COSIGN=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
: "${CLEANPIPE_TEST_SIGSTORE_DIR:?start .ci/sigstore-stack and source its env}"
: "${CLEANPIPE_TEST_REFERRERS_REGISTRY:?a registry with the referrers API}"
SC=$CLEANPIPE_TEST_SIGSTORE_DIR/signing_config.json
TR=$CLEANPIPE_TEST_SIGSTORE_DIR/trusted_root.json
ISS=$CLEANPIPE_TEST_OIDC_ISSUER/email
REG=$CLEANPIPE_TEST_REFERRERS_REGISTRY
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export TUF_ROOT=$WORK/tuf HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 DOCKER_CONFIG=$WORK/docker

umoci init --layout lay >/dev/null
n=0
image() { # a new image in the registry; prints REG/bench@sha256:…
    n=$((n + 1))
    umoci new --image "lay:i$n" >/dev/null
    umoci config --image "lay:i$n" --config.env "RUN=$n-$$" >/dev/null
    skopeo copy -q --dest-tls-verify=false "oci:lay:i$n" "docker://$REG/bench-keyless:i$n"
    echo "$REG/bench-keyless@$(skopeo inspect --tls-verify=false "docker://$REG/bench-keyless:i$n" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')"
}
token() { curl -fsS "$ISS/mint" >"$WORK/token"; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; exit 1; }; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
cp_sign() { token; ms "$CLEANPIPE" sign "$1" --keyless --signing-config "$SC" --identity-token "$WORK/token"; }
co_sign() { token; ms "$COSIGN" sign -y --signing-config "$SC" --trusted-root "$TR" --identity-token "$WORK/token" --allow-insecure-registry "$1"; }
cp_verify() { ms "$CLEANPIPE" verify "$1" --trusted-root "$TR" --certificate-identity dev@example.test --certificate-oidc-issuer "$ISS" --insecure-ignore-sct; }
co_verify() { ms "$COSIGN" verify --trusted-root "$TR" --certificate-identity dev@example.test --certificate-oidc-issuer "$ISS" --insecure-ignore-sct --allow-insecure-registry "$1"; }
median() { python3 -c 'import statistics,sys; print(int(statistics.median(int(x) for x in sys.argv[1:])))' "$@"; }

target=$(image)
cp_sign "$target" >/dev/null
co_sign "$target" >/dev/null
cp_verify "$target" >/dev/null # warm-up
co_verify "$target" >/dev/null
s_cp=() s_co=() v_cp=() v_co=()
for ((i = 0; i < RUNS; i++)); do
    a=$(image) b=$(image)
    if ((i % 2)); then s_co+=("$(co_sign "$b")"); s_cp+=("$(cp_sign "$a")"); v_co+=("$(co_verify "$target")"); v_cp+=("$(cp_verify "$target")")
    else s_cp+=("$(cp_sign "$a")"); s_co+=("$(co_sign "$b")"); v_cp+=("$(cp_verify "$target")"); v_co+=("$(co_verify "$target")"); fi
done
report() { # report WHAT CLEANPIPE_MS... -- COSIGN_MS...
    local what=$1 cp co
    shift
    cp=$(median "${@:1:$RUNS}") co=$(median "${@:$((RUNS + 1))}")
    printf '%-8s cleanpipe %5d ms   cosign %5d ms   ratio %.2f   (medians of %d runs)\n' "$what" "$cp" "$co" "$(python3 -c "print($cp/$co)")" "$RUNS"
}
report sign "${s_cp[@]}" "${s_co[@]}"
report verify "${v_cp[@]}" "${v_co[@]}"
