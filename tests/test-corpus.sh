#!/usr/bin/env bash
# libvirt's own domain test corpus (tests/qemuxml2argvdata of the Debian 12
# source package, libvirt 9.0) through `vnumactl plan` on two host shapes:
# a 2-node Xeon with SMT and an 8-node EPYC (NPS4). tests/corpus-check.py
# says what is checked. The source package is fetched once into a cache
# outside the checkout (VNUMA_CORPUS_CACHE) with a private apt state, so
# the system's package lists stay as they are; a failed download fails.
# usage: test-corpus.sh VNUMACTL
set -euo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?}
cache=${VNUMA_CORPUS_CACHE:-/var/cache/vnuma-test/libvirt-corpus}

fetch() {
  local apt_opts
  mkdir -p "$cache/parts" "$cache/lists/partial" "$cache/cache/archives/partial" "$cache/src"
  cat > "$cache/parts/deb-src.sources" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  apt_opts=(-o "Dir::Etc::SourceParts=$cache/parts" -o Dir::Etc::SourceList=/dev/null
            -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache/cache")
  apt-get -qq "${apt_opts[@]}" update
  (cd "$cache/src" && apt-get -qq "${apt_opts[@]}" source --download-only libvirt)
  rm -rf "$cache/tree.new" && mkdir -p "$cache/tree.new"
  tar -xJf "$cache"/src/libvirt_*.orig.tar.xz -C "$cache/tree.new" --wildcards \
    '*/tests/qemuxml2argvdata/*.xml'
  rm -rf "$cache/tree" && mv "$cache/tree.new" "$cache/tree"
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
corpus=$(ls -d "$cache"/tree/*/tests/qemuxml2argvdata 2>/dev/null | head -n1 || true)
if [ -z "$corpus" ]; then
  echo "test-corpus: fetching libvirt's source package into $cache"
  if ! fetch; then
    echo "test-corpus: FAIL: could not fetch libvirt's source package (Debian archive unreachable?)" >&2
    exit 1
  fi
  corpus=$(ls -d "$cache"/tree/*/tests/qemuxml2argvdata)
fi
flock -u 9
echo "test-corpus: $corpus"
exec /usr/bin/python3 "$src/tests/corpus-check.py" "$vnumactl" "$corpus" \
  "$src/examples/hosts/xeon-2s10c-ht.xml" "$src/examples/hosts/epyc-nps4-2s.xml"
