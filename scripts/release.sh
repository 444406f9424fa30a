#!/usr/bin/env bash
# Builds the release binaries of corebridge into dist/ (gitignored):
#
#   dist/corebridge_<version>_linux_amd64
#   dist/corebridge_<version>_linux_arm64
#   dist/corebridge_<version>_linux_arm     (GOARM=7: Raspberry Pi 2 and later, 32-bit)
#   dist/SHA256SUMS                         (sha256sum -c dist/SHA256SUMS checks them)
#
# Static binaries (CGO_ENABLED=0: the SQLite driver is pure Go), built with
# -trimpath, stamped with the version, the commit and the build date, which
# `corebridge version` prints. The version is $VERSION, or else
# `git describe --tags --always --dirty`. Cross-compiling needs nothing but
# Go (and the module proxy, or a filled module cache, for the dependencies).
#
#   scripts/release.sh                  # every platform
#   VERSION=v1.2.0 scripts/release.sh
#   PLATFORMS="linux/amd64" scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time keeps a rebuild of one commit byte-identical; SOURCE_DATE_EPOCH wins.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
elif [[ "$version" == *-dirty ]] || ! date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null); then
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)  # uncommitted changes: now
fi
platforms=${PLATFORMS:-linux/amd64 linux/arm64 linux/arm}

case "$version" in
  */* | *' '*) echo "release.sh: version $version must not contain / or spaces" >&2; exit 2 ;;
esac

mkdir -p dist
rm -f dist/corebridge_* dist/SHA256SUMS
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  out=dist/corebridge_${version}_${os}_${arch}
  echo "== $out"
  goarm=""
  [ "$arch" = arm ] && goarm=7
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=$goarm \
    go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/corebridge
done
(cd dist && sha256sum corebridge_"${version}"_* > SHA256SUMS)
echo "== dist/SHA256SUMS"
cat dist/SHA256SUMS
