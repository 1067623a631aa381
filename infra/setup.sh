#!/usr/bin/env bash
# Installs what Streaming needs on a fresh Debian 12 machine. Idempotent: every step checks before it acts.
# Never edits the system's apt sources: the trixie deb-src line lives in a private sources file under the state directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${STREAMING_STATE_DIR:-$root/.local}"
cache="${STREAMING_CACHE_DIR:-$HOME/.cache/streaming}"
mkdir -p "$state" "$cache"

log() { printf '[setup] %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
for p in kcat prometheus docker-compose postgresql-15 postgresql-server-dev-15 cmake libssl-dev build-essential dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
for p in ${STREAMING_EXTRA_PKGS:-}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

pg_bin=/usr/lib/postgresql/15/bin
ext_dir="$($pg_bin/pg_config --sharedir)/extension"
tsdb_version=2.19.3
if [ ! -f "$ext_dir/timescaledb--$tsdb_version.sql" ]; then
  build_cache="$cache/timescaledb-$tsdb_version"
  if [ ! -f "$build_cache/.built" ]; then
    log "building TimescaleDB $tsdb_version (Apache-only) from Debian trixie's source package"
    rm -rf "$build_cache"; mkdir -p "$build_cache/lists/partial" "$build_cache/src"
    # Use the mirror the system already uses, read from its own sources file.
    mirror="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    if [ -z "$mirror" ]; then
      mirror="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    fi
    [ -n "$mirror" ] || { log "cannot find the system's Debian mirror in /etc/apt/sources.list*"; exit 1; }
    echo "deb-src $mirror trixie main" > "$build_cache/sources.list"
    apt_opts=(-o "Dir::Etc::sourcelist=$build_cache/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$build_cache/lists" -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$build_cache/src" && apt-get "${apt_opts[@]}" source -qq --download-only "timescaledb=$tsdb_version+dfsg-1+deb13u1" >/dev/null && dpkg-source -x ./*.dsc tsdb >/dev/null)
    (cd "$build_cache/src/tsdb" && ./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
        -DPG_CONFIG=$pg_bin/pg_config >/dev/null && make -s -C build -j"$(nproc)" >/dev/null)
    touch "$build_cache/.built"
  fi
  log "installing TimescaleDB $tsdb_version from the cached build"
  sudo_if_needed make -s -C "$build_cache/src/tsdb/build" install >/dev/null
fi
log "ready: prometheus $(dpkg-query -W -f='${Version}' prometheus), PostgreSQL $($pg_bin/postgres --version | awk '{print $3}'), TimescaleDB $tsdb_version"
