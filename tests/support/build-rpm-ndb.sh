#!/usr/bin/env bash
# build-rpm-ndb.sh PREFIX
#
# Builds rpm itself with its NDB database backend (`Packages.db`, what SUSE and openSUSE use)
# and prints the path of PREFIX/bin/rpmdb-ndb: that rpm's `rpmdb`, set to the NDB backend.
# The rpm cataloger's NDB integration test uses it to write a real NDB database
# (CLEANPIPE_TEST_RPMDB_NDB).
#
# Why build: Debian's rpm package is configured without --enable-ndb (`--define
# '_db_backend ndb'` gives "invalid %_db_backend: ndb"). So this takes the source of the very
# rpm Debian ships (`apt-get source rpm`, from Debian's archive through a private APT
# configuration: the machine's sources are left alone), configures it with --enable-ndb and
# builds only the libraries and the `rpm`/`rpmdb` programs. The wrapper reads the rpmrc and
# macros of the installed Debian rpm, the same version.
#
# Idempotent and cached: PREFIX/.complete marks a finished build; a partial one is redone.
# Needs: root (apt-get installs the build dependencies), Debian bookworm's archive, the `rpm`
# package installed. Takes a few minutes on 2 cores.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$(realpath -m "$1")
wrapper=$prefix/bin/rpmdb-ndb
if [[ -f "$prefix/.complete" && -x "$wrapper" ]]; then
    echo "$wrapper"
    exit 0
fi
[[ -r /usr/lib/rpm/rpmrc && -r /usr/lib/rpm/macros ]] ||
    { echo "$0: Debian's rpm is not installed (apt-get install rpm)" >&2; exit 1; }

# Build dependencies for this configuration only (no Python, plugins, archive, SELinux).
deps=(dpkg-dev gcc make pkg-config libpopt-dev liblua5.3-dev libgcrypt20-dev libmagic-dev
      zlib1g-dev)
missing=()
for d in "${deps[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "ok installed" || missing+=("$d")
done
if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

rm -rf "$prefix"
mkdir -p "$prefix/apt/lists/partial" "$prefix/apt/parts" "$prefix/bin"
# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
cat > "$prefix/apt/sources.list" <<EOF
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
EOF
cat > "$prefix/apt/apt.conf" <<EOF
Dir::Etc::SourceList "$prefix/apt/sources.list";
Dir::Etc::SourceParts "$prefix/apt/parts";
Dir::State::Lists "$prefix/apt/lists";
APT::Sandbox::User "root";
EOF
export APT_CONFIG=$prefix/apt/apt.conf
apt-get update -q >&2
# The version Debian has installed, so the wrapper can share its rpmrc and macros.
version=$(dpkg-query -W -f='${Version}' rpm)
(cd "$prefix" && apt-get source -q "rpm=$version" >&2)
src=$(find "$prefix" -mindepth 1 -maxdepth 1 -type d -name 'rpm-*' | head -1)
[[ -n "$src" ]] || { echo "$0: apt-get source rpm unpacked nothing" >&2; exit 1; }

(
    cd "$src"
    LUA_CFLAGS="$(pkg-config --cflags lua5.3)" LUA_LIBS="$(pkg-config --libs lua5.3)" \
        ./configure --prefix="$prefix/unused" --enable-ndb --disable-sqlite --without-archive \
        --disable-python --disable-plugins --without-selinux --without-cap --without-acl \
        --disable-openmp --with-crypto=libgcrypt --disable-nls
    make -j"$(nproc)" -C misc
    make -j"$(nproc)" -C rpmio
    make -j"$(nproc)" -C lib
    make -j"$(nproc)" rpmdb
) > "$prefix/build.log" 2>&1 || {
    tail -20 "$prefix/build.log" >&2
    echo "$0: building rpm with NDB failed; the log is $prefix/build.log" >&2
    exit 1
}

cat > "$wrapper" <<EOF
#!/bin/sh
# rpm's rpmdb (built from Debian's source with --enable-ndb) using the NDB backend.
exec "$src/rpmdb" --rcfile /usr/lib/rpm/rpmrc --macros /usr/lib/rpm/macros \\
    --define '_db_backend ndb' "\$@"
EOF
chmod 755 "$wrapper"
# Prove it: an empty NDB database is created.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
"$wrapper" --root "$check" --dbpath /db --initdb
[[ "$(head -c 4 "$check/db/Packages.db" 2>/dev/null)" == RpmP ]] ||
    { echo "$0: the built rpmdb did not write an NDB Packages.db" >&2; exit 1; }
touch "$prefix/.complete"
echo "$wrapper"
