#!/usr/bin/env bash
# The web desk in a real browser: Debian's chromium (with a CJK font), driven by playwright-core
# from npm, against a real `hotline serve --demo` on the embedded default; then a smoke path in
# Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi. Installs what it
# needs; skips with a clear message where Chromium or npm cannot be had. Screenshots go to
# target/screenshots/.
#
#   bash tests/browser/run.sh        # after a debug build (cargo test builds target/debug/hotline)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
HOTLINE=${HOTLINE_BIN:-$TARGET_DIR/debug/hotline}
[[ -x $HOTLINE ]] || cargo build --locked -q --bin hotline

if [[ ! -x /usr/bin/chromium ]] || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; then
    if ! { apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1; }; }; then
        echo "SKIP browser tests: Debian's chromium and fonts-wqy-microhei could not be installed"
        exit 0
    fi
fi
NODE_DIR=$TARGET_DIR/browser-node
if [[ ! -d $NODE_DIR/node_modules/playwright-core ]]; then
    mkdir -p "$NODE_DIR"
    if ! (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null 2>&1); then
        echo "SKIP browser tests: playwright-core could not be installed from npm"
        exit 0
    fi
fi
cp tests/browser/desk.mjs "$NODE_DIR/desk.mjs"

WORK=$(mktemp -d -t hotline-browser.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HTTP_PORT=$(free_port)
# The shipped SLA policy plus one rule: a one-minute sign-for clock for category CJ.AQSC, so
# the test can watch a queue light go yellow and red without waiting hours.
{
    cat crates/sla/data/default_policy.toml
    cat <<'RULE'

[[rule]]
name = "browser test: a sign-for clock short enough to watch"
category = "CJ.AQSC"
sign_for = "1 min"
first_contact = "1 wd"
resolution = "5 wd"
callback = "1 wd"
warning_lead = "50%"
RULE
} >"$WORK/sla.toml"
# A finished simulation for the desk's simulations page: three calls at one station.
mkdir -p "$WORK/simulations"
cat >"$WORK/tiny.toml" <<'SCENARIO'
name = "browser test: three calls at one station"
start = "2026-03-02"
days = 1
drain_days = 14
[arrivals]
categories = { "SQ.WYBX" = 1 }
territory = { "320508021019" = 1 }
times = ["2026-03-02T09:00", "2026-03-02T09:10", "2026-03-02T09:20"]
[staff]
default = 1
[behaviour]
sign_for = { dist = "fixed", value = "1 h" }
handle = { dist = "fixed", value = "30 min" }
resolve = { dist = "fixed", value = "1 d" }
SCENARIO
"$HOTLINE" simulate "$WORK/tiny.toml" --out "$WORK/simulations/tiny-seed1" --quiet >"$WORK/simulate.log" 2>&1
"$HOTLINE" serve --demo --listen "127.0.0.1:$PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    --data-dir "$WORK/data" --sla-policy "$WORK/sla.toml" \
    --simulations-dir "$WORK/simulations" --alias-min-agreeing 1 \
    --hotspot-bucket-seconds 5 --hotspot-window-seconds 60 --hotspot-grace-seconds 1 \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
    grep -q "serving HTTP" "$WORK/server.log" && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
# A territory correction for the desk's 地址别名 page, made with the command-line desk as any
# integrator would: a call from 锦绣大厦 (known only as 姑苏区) corrected to 金狮社区.
DESK=${AGENT_DESK_BIN:-$TARGET_DIR/debug/agent-desk}
[[ -x $DESK ]] || cargo build --locked -q --bin agent-desk
CLI=("$DESK" --server "http://127.0.0.1:$PORT" --session-file "$WORK/cli-session.json")
echo hotline-demo | "${CLI[@]}" login demo-operator --password-stdin >/dev/null
CORRECTED=$("${CLI[@]}" --json submit --text "楼道灯坏了好几天" --address "姑苏区锦绣大厦3号楼" \
    --name 王女士 --phone 13900000001 | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"]["id"])')
"${CLI[@]}" reclassify "$CORRECTED" --division 320508020024 >/dev/null
# A surge for the hotspot banner: ten routed calls about 停水 in 吴中区长桥街道龙西社区 within
# seconds. The router above counts in 5 s buckets over a minute, so the alert is raised at once
# (and stays on for the 30-minute cool-down, the whole test), its calls merged into one
# incident (并案) that the banner links.
for i in $(seq 10 19); do
    "${CLI[@]}" submit --text "小区停水了，一直没有来水" --division 320506001013 \
        --category CJ.CSJS --name 李先生 --phone "139000000$i" >/dev/null
done
mkdir -p "$TARGET_DIR/screenshots"
node "$NODE_DIR/desk.mjs" "http://127.0.0.1:$HTTP_PORT" "$TARGET_DIR/screenshots"

# Firefox (Debian's firefox-esr) for the smoke path, driven by puppeteer-core over WebDriver
# BiDi; skipped, saying why, when either cannot be had.
if [[ ! -x /usr/bin/firefox-esr ]] && ! apt-get install -y -q firefox-esr >/dev/null 2>&1; then
    echo "SKIP Firefox: Debian's firefox-esr could not be installed"
elif [[ ! -d $NODE_DIR/node_modules/puppeteer-core ]] &&
    ! (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund puppeteer-core@24 >/dev/null 2>&1); then
    echo "SKIP Firefox: puppeteer-core could not be installed from npm"
else
    cp tests/browser/firefox.mjs "$NODE_DIR/firefox.mjs"
    node "$NODE_DIR/firefox.mjs" "http://127.0.0.1:$HTTP_PORT" "$TARGET_DIR/screenshots"
fi
# The router down and back, seen from `agent-desk web` running on its own against a second
# router (with `hotline serve` the desk lives in the router's process and would go with it).
PORT_B=$(free_port)
HTTP_B=$(free_port)
DESK_PORT=$(free_port)
cat >"$WORK/router-b.sh" <<SCRIPT
#!/usr/bin/env bash
# start | stop the second router (same data, same port), for router_down.mjs.
set -euo pipefail
case \$1 in
start)
    "$HOTLINE" serve --demo --listen "127.0.0.1:$PORT_B" --http-listen "127.0.0.1:$HTTP_B" \\
        --data-dir "$WORK/data-b" >>"$WORK/router-b.log" 2>&1 &
    echo \$! >"$WORK/router-b.pid"
    for _ in \$(seq 1 300); do
        [[ \$(grep -c "serving HTTP" "$WORK/router-b.log") -ge \$(cat "$WORK/router-b.starts" 2>/dev/null || echo 1) ]] && break
        sleep 0.1
    done
    echo \$(( \$(cat "$WORK/router-b.starts" 2>/dev/null || echo 1) + 1 )) >"$WORK/router-b.starts"
    ;;
stop)
    kill "\$(cat "$WORK/router-b.pid")"
    while kill -0 "\$(cat "$WORK/router-b.pid")" 2>/dev/null; do sleep 0.1; done
    ;;
esac
SCRIPT
bash "$WORK/router-b.sh" start
"$DESK" web --server "http://127.0.0.1:$PORT_B" --listen "127.0.0.1:$DESK_PORT" >"$WORK/desk-b.log" 2>&1 &
DESK_PID=$!
trap 'kill "$DESK_PID" 2>/dev/null || true; kill "$(cat "$WORK/router-b.pid" 2>/dev/null)" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$DESK_PORT/desk/login" 2>/dev/null && break
    sleep 0.1
done
cp tests/browser/router_down.mjs "$NODE_DIR/router_down.mjs"
node "$NODE_DIR/router_down.mjs" "http://127.0.0.1:$DESK_PORT" "$TARGET_DIR/screenshots" \
    "bash $WORK/router-b.sh stop" "bash $WORK/router-b.sh start"
echo "browser: screenshots in $TARGET_DIR/screenshots"
