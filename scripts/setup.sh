#!/usr/bin/env bash
# Set up everything fraiday needs on a Debian-like machine with Python 3.11+ and Go. Idempotent:
# a second run only checks. Installs: the project in .venv (with its dev tools), Debian's redis-server,
# FerretDB 1.24.2 (a MongoDB-wire server) in ~/.cache/fraiday/bin on Debian's postgresql, unless
# FRAIDAY_TEST_MONGODB_URI names a real MongoDB to use instead, helm (for the chart tests) and Debian's
# chromium and chromium-driver (the dashboard's browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

FERRETDB_VERSION=v1.24.2
BIN_DIR="${HOME}/.cache/fraiday/bin"
PYTHON="${PYTHON:-python3}"

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { say "Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.fraiday-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing fraiday and its dev tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi

if ! command -v redis-server >/dev/null 2>&1; then
  say "installing redis-server (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  # The package starts a system service on 6379; fraiday's scripts run their own instances.
  as_root service redis-server stop >/dev/null 2>&1 || true
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  say "installing chromium and chromium-driver (Debian packages, for the dashboard's browser tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if [ -z "${FRAIDAY_TEST_MONGODB_URI:-}" ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
  && ! command -v postgres >/dev/null 2>&1; then
  say "installing postgresql (Debian package): FerretDB's storage"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 postgresql >/dev/null
  # The package starts a system cluster on 5432; fraiday's scripts run their own clusters.
  as_root service postgresql stop >/dev/null 2>&1 || true
fi

if [ -z "${FRAIDAY_TEST_MONGODB_URI:-}" ] && [ ! -x "$BIN_DIR/ferretdb" ]; then
  command -v go >/dev/null 2>&1 || { say "Go is needed to build FerretDB (or set FRAIDAY_TEST_MONGODB_URI)"; exit 1; }
  say "building FerretDB $FERRETDB_VERSION into $BIN_DIR (a few minutes, once)"
  # Not `go install ...@$FERRETDB_VERSION`: the module zip lacks build/version/version.txt, which
  # FerretDB's release tooling generates, and the binary built from it panics at start. Build the same
  # module source with that file written, as FerretDB's docs say to for builds outside their tooling.
  src_dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$src_dir/." "$work/"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  mkdir -p "$BIN_DIR"
  (cd "$work" && go build -trimpath -o "$BIN_DIR/ferretdb" ./cmd/ferretdb)
fi
HELM_VERSION=v3.16.3
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$BIN_DIR/helm" ]; then
  command -v go >/dev/null 2>&1 || { say "Go is needed to build helm for the chart tests"; exit 1; }
  say "building helm $HELM_VERSION into $BIN_DIR (once)"
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
say "ready"
