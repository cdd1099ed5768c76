#!/usr/bin/env bash
# Build a tiny Rust binary with cargo-auditable (dependency list in the `.dep-v0` ELF section).
#   make-auditable-binary.sh OUTDIR   ->  OUTDIR/cleanpipe-rusttest
# cargo-auditable is taken from PATH, or from $CARGO_AUDITABLE_ROOT (a `cargo install --root` dir,
# i.e. the binary is $CARGO_AUDITABLE_ROOT/bin/cargo-auditable; a dir holding it directly works too).
# Install once: cargo install cargo-auditable --locked --root DIR   (~40 s on 2 cores)
# Dependencies come from crates.io (the registry is reachable); pinned with `=` for stable output.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "${CARGO_AUDITABLE_ROOT:-}" ]; then
  for d in "$CARGO_AUDITABLE_ROOT/bin" "$CARGO_AUDITABLE_ROOT"; do
    [ -x "$d/cargo-auditable" ] && { PATH="$(cd "$d" && pwd):$PATH"; break; }
  done
fi
command -v cargo-auditable >/dev/null || {
  echo "cargo-auditable not found on PATH or in CARGO_AUDITABLE_ROOT" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cleanpipe-rusttest/src"
cd "$tmp/cleanpipe-rusttest"
cat > Cargo.toml <<'T'
[package]
name = "cleanpipe-rusttest"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
itoa = "=1.0.11"
cfg-if = "=1.0.0"

[workspace]

[profile.release]
strip = false
T
cat > src/main.rs <<'R'
cfg_if::cfg_if! {
    if #[cfg(unix)] { const OS: &str = "unix"; } else { const OS: &str = "other"; }
}
fn main() {
    let mut b = itoa::Buffer::new();
    println!("{} {}", OS, b.format(42u32));
}
R
export CARGO_TARGET_DIR="$tmp/target"
unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
cargo auditable build --release --quiet
cp "$CARGO_TARGET_DIR/release/cleanpipe-rusttest" "$out/cleanpipe-rusttest"
echo "$out/cleanpipe-rusttest"
