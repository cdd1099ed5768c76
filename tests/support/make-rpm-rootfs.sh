#!/usr/bin/env bash
# make-rpm-rootfs.sh ROOTDIR
#
# Builds a tiny RHEL-like root filesystem with a REAL rpm database in the sqlite
# format (ROOTDIR/var/lib/rpm/rpmdb.sqlite), written by the real `rpm` tool, for
# the rpm cataloger's integration tests. No network.
#
# Three noarch packages are built with rpmbuild and installed with `rpm --root`:
#   hello-tool    1.2.3-4          License: MIT
#   libfoo        2:0.9-1.el9      License: GPL-2.0-or-later AND BSD-3-Clause
#   zlib-ng-fake  2.1.6-3          License: Zlib
# plus ROOTDIR/etc/os-release for Rocky Linux 9.3.
#
# Idempotent: ROOTDIR is built complete in a staging directory next to it and
# moved into place at the end; a previous output of this script at ROOTDIR is
# replaced. ROOTDIR may be missing or an empty directory; any other non-empty
# directory is refused (so a typo cannot wipe an unrelated tree).
#
# Needs: rpm and rpmbuild (Debian: `apt-get install rpm`), rpm >= 4.16 for sqlite.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 ROOTDIR" >&2
    exit 2
fi

for tool in rpm rpmbuild; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found (apt-get install rpm)" >&2; exit 1; }
done

root=$1
marker=.make-rpm-rootfs
if [[ -e "$root" ]]; then
    [[ -d "$root" ]] || { echo "$0: $root exists and is not a directory" >&2; exit 1; }
    if [[ -n "$(ls -A "$root")" && ! -e "$root/$marker" ]]; then
        echo "$0: $root is not empty and was not made by this script; refusing to replace it" >&2
        exit 1
    fi
fi
root=$(realpath -m "$root")
parent=$(dirname "$root")
mkdir -p "$parent"

# Deterministic build metadata (BUILDTIME, file mtimes, BUILDHOST).
export SOURCE_DATE_EPOCH=1700000000
export TZ=UTC LC_ALL=C

work=$(mktemp -d "${TMPDIR:-/tmp}/make-rpm-rootfs.XXXXXX")
stage=$(mktemp -d "$parent/.$(basename "$root").stage.XXXXXX")
old=""
cleanup() {
    rm -rf "$work" "$stage"
    [[ -z "$old" ]] || rm -rf "$old"
}
trap cleanup EXIT

top=$work/rpmbuild
mkdir -p "$top"/{SPECS,SOURCES,BUILD,BUILDROOT,RPMS,SRPMS}

# spec NAME EPOCH(or empty) VERSION RELEASE LICENSE FILE-PATH
spec() {
    local name=$1 epoch=$2 version=$3 release=$4 license=$5 path=$6
    {
        echo "Name: $name"
        [[ -z "$epoch" ]] || echo "Epoch: $epoch"
        echo "Version: $version"
        echo "Release: $release"
        echo "Summary: Test fixture package $name"
        echo "License: $license"
        echo "BuildArch: noarch"
        echo "URL: https://example.invalid/$name"
        cat <<EOF

%description
Tiny fixture package $name for cleanpipe's rpm cataloger tests.

%prep
%build
%install
mkdir -p %{buildroot}$(dirname "$path")
printf '%s %s\n' '$name' '$version' > %{buildroot}$path

%files
$path
EOF
    } > "$top/SPECS/$name.spec"
}

spec hello-tool   ""  1.2.3 4     "MIT"                              /usr/share/hello-tool/hello.txt
spec libfoo       2   0.9   1.el9 "GPL-2.0-or-later AND BSD-3-Clause" /usr/share/libfoo/libfoo.txt
spec zlib-ng-fake ""  2.1.6 3     "Zlib"                             /usr/share/zlib-ng-fake/README

rpmdefs=(
    --define "_topdir $top"
    --define "_db_backend sqlite"
    --define "_buildhost fixture.example.invalid"
    --define "use_source_date_epoch_as_buildtime 1"
    --define "clamp_mtime_to_source_date_epoch 1"
    --define "_binary_payload w9.gzdio"
)
for s in "$top"/SPECS/*.spec; do
    rpmbuild "${rpmdefs[@]}" --quiet -bb "$s" >/dev/null
done

mkdir -p "$stage/etc" "$stage/var/lib/rpm"
cat > "$stage/etc/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
EOF
echo "Rocky Linux release 9.3 (Blue Onyx)" > "$stage/etc/redhat-release"

# Debian's rpm refuses to install packages unless told --force-debian.
extra=()
if rpm --help 2>&1 | grep -q -- '--force-debian'; then
    extra+=(--force-debian)
fi
rpm --root "$stage" --dbpath /var/lib/rpm \
    --define "_db_backend sqlite" \
    --initdb
rpm --root "$stage" --dbpath /var/lib/rpm \
    --define "_db_backend sqlite" \
    -i --nodeps --ignorearch --ignoreos --noscripts --notriggers "${extra[@]}" \
    "$top"/RPMS/noarch/*.noarch.rpm

# Drop rpm's empty lock file; keep rpmdb.sqlite-wal (empty) and -shm, which rpm itself leaves behind.
rm -f "$stage/var/lib/rpm/.rpm.lock"
[[ -s "$stage/var/lib/rpm/rpmdb.sqlite" ]] || { echo "$0: rpm did not write rpmdb.sqlite" >&2; exit 1; }
n=$(rpm --root "$stage" --dbpath /var/lib/rpm --define "_db_backend sqlite" -qa | wc -l)
[[ "$n" -eq 3 ]] || { echo "$0: expected 3 packages in the db, got $n" >&2; exit 1; }
touch "$stage/$marker"

# Swap into place: old ROOTDIR (if any) aside, stage in, then drop the old one.
if [[ -e "$root" ]]; then
    old=$(mktemp -d "$parent/.$(basename "$root").old.XXXXXX")
    mv "$root" "$old/"
fi
mv "$stage" "$root"
stage=""
chmod 755 "$root"
echo "$root"
