#!/usr/bin/env bash
# Build the Pulumi CLI and its Python language host from Go modules, into
# <repo>/.tools/pulumi/bin. Idempotent: exits quickly when the pinned version
# is already installed there or on PATH.
#
# Only the Go module proxy is used for downloads (no installer, no npm, no
# GitHub releases). Requires Go >= 1.25 on PATH or at /usr/local/go/bin/go.
#
# Pins:
#   PULUMI_VERSION           CLI (github.com/pulumi/pulumi/pkg/v3) and the
#                            sdk/v3 module the helper scripts are taken from.
#                            The PyPI `pulumi` SDK must be the same version.
#                            (v3.259.0 is the newest pkg/v3 the proxy serves
#                            here; v3.260-v3.272 are refused.)
#   PULUMI_LANGHOST_VERSION  sdk/v3 version the Python language host is built
#                            from. Upstream moved the host into its own module
#                            (sdk/python/cmd/pulumi-language-python/v3) in
#                            v3.80.0 and never tags that module, so the proxy
#                            has no version of it; v3.79.0 is the last release
#                            where the host lives inside sdk/v3. It ignores
#                            the `virtualenv`/`toolchain` runtime options, so
#                            put the venv's bin first on PATH.
set -euo pipefail

PULUMI_VERSION=v3.259.0
PULUMI_LANGHOST_VERSION=v3.79.0

# Replace directive mirrored from upstream pkg/go.mod.
CLIPBOARD_REPLACE='github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e'
# Replace directive mirrored from upstream sdk/go.mod at the langhost version.
LANGHOST_TEXT_REPLACE='golang.org/x/text => golang.org/x/text v0.3.6'

VERSION_PKG=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
CLI_PKG=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
LANGHOST_PKG=github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
TOOLS_DIR=$(cd "$SCRIPT_DIR/.." && pwd)/.tools/pulumi
BIN_DIR="$TOOLS_DIR/bin"
STAMP="$TOOLS_DIR/.installed"
STAMP_TEXT="cli=$PULUMI_VERSION langhost=$PULUMI_LANGHOST_VERSION"
FILES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)

log() { printf '[install-pulumi] %s\n' "$*"; }
die() { printf '[install-pulumi] ERROR: %s\n' "$*" >&2; exit 1; }

# The CLI must never try to reach the update-check service while we run it.
export PULUMI_SKIP_UPDATE_CHECK=true

# version_of BIN -> prints "vX.Y.Z" or nothing
version_of() { "$1" version 2>/dev/null | head -n1 | tr -d '[:space:]' || true; }

# --- fast paths ---------------------------------------------------------------
all_in_dir() {
  local f
  for f in "${FILES[@]}"; do [[ -x "$1/$f" ]] || return 1; done
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] && all_in_dir "$BIN_DIR" \
   && [[ "$(version_of "$BIN_DIR/pulumi")" == "$PULUMI_VERSION" ]]; then
  log "pulumi $PULUMI_VERSION already installed in $BIN_DIR"
  exit 0
fi

if on_path=$(command -v pulumi 2>/dev/null) && [[ "$(version_of "$on_path")" == "$PULUMI_VERSION" ]]; then
  missing=0
  for f in "${FILES[@]:1}"; do command -v "$f" >/dev/null 2>&1 || missing=1; done
  if [[ $missing == 0 ]]; then
    log "pulumi $PULUMI_VERSION already on PATH at $on_path"
    exit 0
  fi
fi

# --- Go toolchain ---------------------------------------------------------------
GO=$(command -v go 2>/dev/null || true)
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
[[ -n "$GO" ]] || die "Go not found (need Go >= 1.25 on PATH or at /usr/local/go/bin/go)"
log "using $("$GO" version) ($GO)"

# Default GOPATH/GOMODCACHE/GOCACHE live under \$HOME and persist between runs,
# so a re-build after a wipe of .tools only re-links. -mod=mod lets go build
# fill the throwaway wrapper's go.sum (verified against the checksum database).
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
log "Go module cache: $("$GO" env GOMODCACHE); build cache: $("$GO" env GOCACHE)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-pulumi.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/out" "$BIN_DIR"

build() { # build NAME WRAPPER_DIR PKG VERSION HINT
  local name=$1 dir=$2 pkg=$3 ver=$4 hint=$5 start
  start=$(date +%s)
  log "building $name ($pkg@$ver); $hint"
  (cd "$dir" && nice -n 10 "$GO" build -o "$WORK/out/$name" \
      -ldflags "-s -w -X $VERSION_PKG=$ver" "$pkg") \
    || die "go build of $name failed"
  log "built $name in $(( $(date +%s) - start ))s"
}

# --- CLI ------------------------------------------------------------------------
mkdir -p "$WORK/cli"
cat > "$WORK/cli/go.mod" <<EOF
module govnet.local/pulumi-cli-build

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace $CLIPBOARD_REPLACE
EOF

if [[ "$(version_of "$BIN_DIR/pulumi")" == "$PULUMI_VERSION" ]]; then
  log "pulumi CLI $PULUMI_VERSION already in $BIN_DIR, not rebuilding"
else
  build pulumi "$WORK/cli" "$CLI_PKG" "$PULUMI_VERSION" \
    "cold caches: ~6 min on 2 cores, warm: ~10 s"
  mv -f "$WORK/out/pulumi" "$BIN_DIR/pulumi"
fi

# --- Python language host ---------------------------------------------------------
mkdir -p "$WORK/langhost"
cat > "$WORK/langhost/go.mod" <<EOF
module govnet.local/pulumi-langhost-build

go 1.21

require github.com/pulumi/pulumi/sdk/v3 $PULUMI_LANGHOST_VERSION

replace $LANGHOST_TEXT_REPLACE
EOF
build pulumi-language-python "$WORK/langhost" "$LANGHOST_PKG" "$PULUMI_LANGHOST_VERSION" \
  "cold caches: ~40 s"
mv -f "$WORK/out/pulumi-language-python" "$BIN_DIR/pulumi-language-python"

# --- helper scripts from the sdk/v3 module that matches the PyPI SDK -------------------
log "copying Python helper scripts from github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
SDK_DIR=$(cd "$WORK/cli" && "$GO" mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[[ -n "$SDK_DIR" && -d "$SDK_DIR/python" ]] || die "sdk/v3@$PULUMI_VERSION not in module cache"
install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$BIN_DIR/pulumi-language-python-exec"
install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$BIN_DIR/pulumi-resource-pulumi-python"

printf '%s\n' "$STAMP_TEXT" > "$STAMP"
log "installed into $BIN_DIR:"
for f in "${FILES[@]}"; do log "  $(du -h "$BIN_DIR/$f" | cut -f1)	$f"; done
log "pulumi version: $("$BIN_DIR/pulumi" version)"
