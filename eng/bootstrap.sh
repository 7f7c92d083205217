#!/usr/bin/env bash
# Prepares this machine to build and test SagaAspire. Idempotent: a second run that finds
# everything in place takes about a second.
#
# What it may change, and why:
#  - librdkafka: Confluent.Kafka needs the native librdkafka from the NuGet package
#    `librdkafka.redist`. Where the configured NuGet sources lack it, librdkafka is built from
#    Debian's source package (trixie's 2.x; bookworm's binary 2.0.2 is too old for
#    Confluent.Kafka 2.16), with eng/librdkafka-mock-fetch.patch applied to its mock cluster
#    (the embedded broker), and wrapped as a local package `librdkafka.redist` 2.16.0.3 in
#    .nuget/local (older local versions there are removed). The same happens where the real
#    package restores but its native library cannot load here (it links libsasl2.so.3; Debian
#    names it libsasl2.so.2). Where the real package restores and loads, nothing is built, any
#    stand-in is removed, and the real one wins.
#  - PostgreSQL: the embedded database needs the server binaries (initdb, pg_ctl, postgres).
#    They are installed from the distribution when missing.
#  - Chromium: the Saga Explorer's browser tests run Debian's Chromium headless; installed when
#    missing.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir=${SAGAASPIRE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sagaaspire}
local_feed="$repo_root/.nuget/local"
librdkafka_version=2.8.0
redist_requested=2.16.0     # the librdkafka.redist version Confluent.Kafka 2.16.0 depends on
redist_local=2.16.0.3       # our stand-in (the last digit counts our builds: a new one is a new package to NuGet)
# Where the build is installed: one per librdkafka version and patch, so a new package label
# alone reuses the build.
patch_sum=$(sha256sum "$repo_root/eng/librdkafka-mock-fetch.patch" | cut -c1-12)
librdkafka_prefix="$cache_dir/librdkafka-$librdkafka_version-$patch_sum"
say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
  else die "'$*' needs root; run it yourself, then run this again"; fi
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install these packages yourself: $*"
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

check_dotnet() {
  command -v dotnet >/dev/null || die "the .NET SDK 10 is required (dotnet not on PATH)"
}

# --- PostgreSQL server binaries --------------------------------------------------------------
ensure_postgres() {
  if command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then return; fi
  say "installing the PostgreSQL server (needed by the embedded database)"
  apt_install postgresql
}

# --- Chromium ---------------------------------------------------------------------------------
ensure_chromium() {
  # The Saga Explorer's browser tests drive Debian's Chromium through Playwright; Playwright never
  # downloads a browser of its own (SAGAASPIRE_CHROMIUM points at another build).
  local chromium="${SAGAASPIRE_CHROMIUM:-/usr/bin/chromium}"
  [ -x "$chromium" ] && return
  [ -z "${SAGAASPIRE_CHROMIUM:-}" ] || die "SAGAASPIRE_CHROMIUM=$chromium is not an executable"
  say "installing Chromium (needed by the Saga Explorer's browser tests)"
  apt_install chromium
}

# --- librdkafka ------------------------------------------------------------------------------
real_redist_available() {
  # The real package is in the NuGet cache already, or the machine's sources can restore it.
  [ -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}/librdkafka.redist/$redist_requested" ] && return 0
  local stamp="$cache_dir/probe-librdkafka.redist-$redist_requested"
  [ -f "$stamp" ] && return "$(cat "$stamp")"
  local probe; probe=$(mktemp -d)
  cat > "$probe/probe.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="librdkafka.redist" Version="[$redist_requested]" /></ItemGroup>
</Project>
PROJ
  local result=1
  (cd "$probe" && dotnet restore --nologo -v q >/dev/null 2>&1) && result=0
  rm -rf "$probe"
  mkdir -p "$cache_dir"; echo "$result" > "$stamp"
  return "$result"
}

build_librdkafka() {
  local prefix="$librdkafka_prefix"
  [ -f "$prefix/lib/librdkafka.so.1" ] && return
  say "building librdkafka $librdkafka_version from Debian's source package (about a minute, once)"
  local src_list=/etc/apt/sources.list.d/sagaaspire-trixie-src.sources
  if [ ! -f "$src_list" ]; then
    # Reuse the mirror this machine is already configured with.
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources"
    as_root tee "$src_list" >/dev/null <<SRC
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=
  fi
  apt_install build-essential patch pkg-config zip libssl-dev zlib1g-dev liblz4-dev libzstd-dev libsasl2-dev libcurl4-openssl-dev
  local work; work=$(mktemp -d); chmod 777 "$work"  # apt fetches as the _apt user
  (cd "$work" && apt-get source --download-only -qq librdkafka/trixie >/dev/null) \
    || die "could not download librdkafka's source package from Debian trixie"
  tar -xf "$work"/librdkafka_"$librdkafka_version"*.orig.tar.* -C "$work"
  local src; src=$(find "$work" -maxdepth 1 -type d -name 'librdkafka*' | head -n1)
  patch -d "$src" -p1 -s < "$repo_root/eng/librdkafka-mock-fetch.patch" || die "could not apply eng/librdkafka-mock-fetch.patch"
  (cd "$src" && ./configure --prefix="$prefix" >"$work/configure.log" 2>&1 \
      && make -j"$(nproc)" libs >"$work/make.log" 2>&1 && make install >"$work/install.log" 2>&1) \
    || { tail -n 30 "$work"/*.log >&2; die "librdkafka build failed (logs above)"; }
  rm -rf "$work"
}

pack_librdkafka() {
  local nupkg="$cache_dir/librdkafka.redist.$redist_local.nupkg"
  if [ ! -f "$nupkg" ]; then
    local stage; stage=$(mktemp -d)
    mkdir -p "$stage/runtimes/linux-x64/native"
    cp -L "$librdkafka_prefix/lib/librdkafka.so.1" "$stage/runtimes/linux-x64/native/librdkafka.so"
    cat > "$stage/librdkafka.redist.nuspec" <<NUSPEC
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>librdkafka.redist</id>
    <version>$redist_local</version>
    <authors>SagaAspire bootstrap</authors>
    <description>librdkafka $librdkafka_version built locally from Debian's source package (with SagaAspire's mock cluster fetch patch), for machines where librdkafka.redist is missing or cannot load. Linux x64 only.</description>
  </metadata>
</package>
NUSPEC
    cat > "$stage/[Content_Types].xml" <<'TYPES'
<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
</Types>
TYPES
    (cd "$stage" && zip -q -r -X "$nupkg.tmp" .) && mv "$nupkg.tmp" "$nupkg"
    rm -rf "$stage"
  fi
  mkdir -p "$local_feed"
  if ! cmp -s "$nupkg" "$local_feed/$(basename "$nupkg")"; then
    cp "$nupkg" "$local_feed/"
    say "put librdkafka.redist $redist_local into .nuget/local"
  fi
}

remove_stale_local_packages() {
  # A stand-in of an earlier version left in the local feed would only confuse restore.
  local stale
  for stale in "$local_feed"/librdkafka.redist.*.nupkg; do
    [ -e "$stale" ] || continue
    [ "$(basename "$stale")" = "librdkafka.redist.$redist_local.nupkg" ] && continue
    rm -f "$stale"
    say "removed $(basename "$stale") from .nuget/local (superseded by $redist_local)"
  done
}

# The real package's Linux build links libraries by the names other distributions give them
# (libsasl2.so.3, say, where Debian ships libsasl2.so.2); where one is missing it cannot load.
real_redist_loads() {
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || return 0
  local lib="${NUGET_PACKAGES:-$HOME/.nuget/packages}/librdkafka.redist/$redist_requested/runtimes/linux-x64/native/librdkafka.so"
  [ -f "$lib" ] || return 0
  local missing; missing=$(ldd "$lib" 2>/dev/null | awk '/not found/ {print $1}' | paste -sd, -)
  [ -z "$missing" ] && return 0
  say "librdkafka.redist $redist_requested restores, but its librdkafka.so needs $missing, which this machine lacks"
  return 1
}

ensure_librdkafka() {
  mkdir -p "$local_feed"
  remove_stale_local_packages
  if real_redist_available && real_redist_loads; then
    rm -f "$local_feed/librdkafka.redist.$redist_local.nupkg"
    return
  fi
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || die "librdkafka.redist is not on your NuGet sources and the local build supports Linux x64 only"
  build_librdkafka
  pack_librdkafka
  say "using librdkafka $librdkafka_version built from Debian's source (local package $redist_local) instead of librdkafka.redist $redist_requested"
}

check_dotnet
ensure_postgres
ensure_chromium
ensure_librdkafka
