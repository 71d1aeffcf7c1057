#!/usr/bin/env bash
# Packaging check (issue 18), run by .ci/run after the tests: what a user gets from `npm install kvmerge`.
# 1. `npm pack --dry-run` ships no dist/bench, no source map and not the from-source test launcher.
# 2. `npm pack`, then the tarball installed into an empty folder (from the npm cache when it has the
#    dependencies: --prefer-offline), `npx kvmerge --version`, and a one-key merge through the installed
#    binary between two redis-servers started here on free loopback ports; the key must arrive.
# Everything it starts is stopped on exit, whatever the outcome (trap). Takes well under a minute.
# Usage: scripts/pack-check.sh   (exit 0 when every check holds; redis-server and redis-cli on PATH)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvmerge-pack.XXXXXX")
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "pack-check: $*" >&2
  exit 1
}

# A port nothing listens on now (the OS picks it), on the loopback interface.
free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Starts a throwaway redis-server (no persistence, in $WORK) and waits until it answers PING.
start_redis() {
  local port=$1
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis-$port.log" &
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
    sleep 0.1
  done
  fail "redis-server on port $port did not answer PING (see its log above)"
}

echo "pack-check: what npm pack ships"
npm pack --dry-run --json --ignore-scripts >"$WORK/files.json"
node - "$WORK/files.json" <<'EOF'
const files = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'))[0].files.map((f) => f.path);
const wrong = files.filter(
  (f) => f.startsWith('dist/bench/') || f.endsWith('.map') || /^dist\/src\/cli\/entry\./.test(f) || /^(src|test)\//.test(f),
);
const missing = ['bin/kvmerge.js', 'bin/load-cli.js', 'dist/cli/kvmerge.cjs', 'dist/cli/kvmerge.cjs.cache', 'dist/src/cli/main.js', 'dist/src/index.js', 'LICENSE'].filter((f) => !files.includes(f));
if (wrong.length > 0 || missing.length > 0) {
  console.error(`pack-check: shipped but should not be: ${wrong.join(', ') || 'none'}; missing: ${missing.join(', ') || 'none'}`);
  process.exit(1);
}
console.log(`pack-check: ${files.length} files, no dist/bench, no source map, no test launcher`);
EOF

# .ci/run's npm ci has just built dist/ (the prepare script); build again only when a source is newer,
# so that the tarball never holds a stale build and CI does not pay for a second one.
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src -name '*.ts' -newer dist/src/cli/main.js | head -n 1)" ]; then
  echo "pack-check: dist/ is older than src/: npm run build"
  npm run build --silent
fi
echo "pack-check: npm pack"
TARBALL=$(npm pack --silent --ignore-scripts --pack-destination "$WORK" | tail -n 1)
[ -f "$WORK/$TARBALL" ] || fail "npm pack did not write $WORK/$TARBALL"

echo "pack-check: install $TARBALL into an empty folder"
mkdir "$WORK/app"
cd "$WORK/app"
echo '{ "name": "kvmerge-pack-check", "private": true }' >package.json
# From the npm cache alone when it holds every dependency (CI just ran npm ci), else the registry too.
install() { npm install --no-audit --no-fund --loglevel=error "$@" "$WORK/$TARBALL" >/dev/null; }
install --offline 2>/dev/null || install --prefer-offline

VERSION=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")
GOT=$(npx --no-install kvmerge --version)
[ "$GOT" = "$VERSION" ] || fail "npx kvmerge --version printed '$GOT', expected '$VERSION'"
echo "pack-check: npx kvmerge --version: $GOT"

SOURCE_PORT=$(free_port)
TARGET_PORT=$(free_port)
start_redis "$SOURCE_PORT"
start_redis "$TARGET_PORT"
redis-cli -p "$SOURCE_PORT" set pack-check:key "arrived" >/dev/null

# The state directory (default journal) stays in $WORK, out of the user's home.
KVMERGE_STATE_DIR="$WORK/state" npx --no-install kvmerge \
  -s "redis://127.0.0.1:$SOURCE_PORT" -t "redis://127.0.0.1:$TARGET_PORT" --quiet
VALUE=$(redis-cli -p "$TARGET_PORT" get pack-check:key)
[ "$VALUE" = "arrived" ] || fail "the merge through the installed binary did not copy the key (target has '$VALUE')"
echo "pack-check: a one-key merge through the installed binary: ok"
