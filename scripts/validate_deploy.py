"""Structural checks of deploy/ that no schema catches: the compose file, Prometheus, Grafana,
the rendered Kubernetes manifests and the Dockerfile agree with each other and with the code.

    python scripts/validate_deploy.py COMPOSE_CONFIG_YAML K8S_RENDERED_YAML
    python scripts/validate_deploy.py --grafana                   (dashboards and provisioning)
    python scripts/validate_deploy.py --dashboard-rules OUT.yml   (for `promtool check rules`)
    python scripts/validate_deploy.py --k8s-env K8S_RENDERED_YAML  (the router's env, KEY=VALUE)
      (COMPOSE_CONFIG_YAML: `docker-compose config` output, or - to read deploy/docker-compose.yml)

Prints one line per failed check and exits 1 if any failed. Needs PyYAML.
"""
import filecmp
import os
import subprocess
import fnmatch
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def code_metrics():
    names = set()
    for path in (ROOT / "crates").rglob("*.rs"):
        names.update(re.findall(r'"(hotline_[a-z_]+)"', path.read_text(encoding="utf-8")))
    names.discard("hotline_descriptor")  # the reflection descriptor, not a metric
    names.discard("hotline_stage")  # an Open311 extended attribute, not a metric
    return names


def compose(path):
    text = (DEPLOY / "docker-compose.yml").read_text() if path == "-" else open(path).read()
    doc = yaml.safe_load(text)
    services = doc.get("services", {})
    routers = sorted(s for s in services if s.startswith("router-"))
    check(routers == ["router-1", "router-2", "router-3"], f"compose: routers are {routers}")
    for name in ("postgres", "redis", "migrate", "prometheus", "grafana"):
        check(name in services, f"compose: no {name} service")
    check(str(services.get("postgres", {}).get("image", "")).startswith("postgres:16"),
          "compose: postgres is not PostgreSQL 16")
    check(str(services.get("redis", {}).get("image", "")).startswith("redis:7"),
          "compose: redis is not Redis 7")
    migrate = services.get("migrate", {})
    check(migrate.get("command") in (["migrate"], "migrate"), "compose: migrate does not run `migrate`")
    for r in routers:
        svc = services[r]
        dep = svc.get("depends_on", {})
        cond = dep.get("migrate", {}).get("condition") if isinstance(dep, dict) else None
        check(cond == "service_completed_successfully",
              f"compose: {r} does not wait for migrate to complete")
        env = svc.get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        check(env.get("HOTLINE_LISTEN") == "0.0.0.0:50051", f"compose: {r} HOTLINE_LISTEN")
        check(env.get("HOTLINE_HTTP_LISTEN") == "0.0.0.0:8080", f"compose: {r} HOTLINE_HTTP_LISTEN")
        check(env.get("HOTLINE_SIGNING_KEYS", "").startswith("/run/secrets/"),
              f"compose: {r} has no signing key ring from a secret")
        for var in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
            check(var in env, f"compose: {r} has no {var}")
    # Prometheus scrapes exactly the compose routers' HTTP listener.
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
    targets = sorted(t for sc in jobs.get("hotline", {}).get("static_configs", []) for t in sc["targets"])
    check(targets == [f"{r}:8080" for r in routers],
          f"prometheus: hotline targets {targets} are not the compose routers' :8080")


# PromQL words that are not metric names: functions are told apart by the "(" after them.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}
# The supervision gauges: every replica reports the same values, so a query must take max()
# across replicas before any sum (docs/metrics.md).
REPLICATED_GAUGES = ("hotline_backlog", "hotline_overdue", "hotline_about_to_breach")


def exporter_metrics():
    """The names docs/metrics.md lists under "Series from other exporters"."""
    text = (ROOT / "docs/metrics.md").read_text(encoding="utf-8")
    section = text.split("## Series from other exporters", 1)
    if not check(len(section) == 2, "docs/metrics.md: no section \"Series from other exporters\""):
        return set()
    body = section[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`", body, re.M))


def metric_names(expr):
    """The metric names a PromQL expression selects (a syntactic reading, good for the queries
    a dashboard has: strings, label matchers, grouping clauses, ranges and functions removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def grafana():
    """The dashboards are valid JSON, the provisioning files parse, every panel uses a
    provisioned datasource and queries only series the router records or docs/metrics.md
    lists as another exporter's, and the replicated supervision gauges go through max()."""
    uids = set()
    for rel in ("grafana/provisioning/datasources/prometheus.yml",
                "grafana/provisioning/dashboards/hotline.yml"):
        try:
            doc = yaml.safe_load((DEPLOY / rel).read_text())
        except (OSError, yaml.YAMLError) as err:
            check(False, f"{rel}: does not parse as YAML: {err}")
            continue
        if rel.endswith("prometheus.yml"):
            check(doc.get("datasources"), f"{rel}: no datasources")
            uids = {d.get("uid") for d in doc.get("datasources", [])}
        else:
            check(doc.get("providers"), f"{rel}: no dashboard provider")
    known = code_metrics()
    others = exporter_metrics()
    seen = set()
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    check(dashboards, "grafana: no dashboard in deploy/grafana/dashboards")
    for path in dashboards:
        try:
            dash = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:
            check(False, f"{path.name}: not valid JSON: {err}")
            continue
        check(dash.get("uid") and dash.get("title"), f"{path.name}: no uid or title")
        ids = [p["id"] for p in dash.get("panels", [])]
        check(len(ids) == len(set(ids)), f"{path.name}: panel ids repeat")
        exprs = []
        for panel in dash.get("panels", []):
            if panel.get("type") == "row":
                continue
            title = panel.get("title")
            uid = panel.get("datasource", {}).get("uid")
            check(uid in uids, f"{path.name}: panel {title!r} uses datasource {uid!r}")
            targets = panel.get("targets", [])
            check(targets, f"{path.name}: panel {title!r} has no query")
            exprs += [(f"panel {title!r}", t.get("expr", "")) for t in targets]
        for var in dash.get("templating", {}).get("list", []):
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", var.get("definition", ""))
            if m:
                exprs.append((f"variable {var['name']!r}", m.group(1)))
        for where, expr in exprs:
            check(expr.strip(), f"{path.name}: {where} has an empty query")
            for name in metric_names(expr):
                base = re.sub(r"_(sum|count|bucket)$", "", name)
                seen.add(base)
                check(base in known or name in others,
                      f"{path.name}: {where} queries {name}, which the router does not record "
                      "and docs/metrics.md does not list as another exporter's")
            for gauge in REPLICATED_GAUGES:
                if not re.search(rf"\b{gauge}\b", expr) or where.startswith("variable"):
                    continue
                check(re.search(rf"max(_over_time)?\s*(by\s*\([^)]*\)\s*)?\(\s*{gauge}\b", expr),
                      f"{path.name}: {where} must aggregate {gauge} with max() across "
                      "replicas (every replica reports the same value)")
    unused = sorted(known - seen)
    if unused:
        print(f"note: metrics not on a dashboard yet: {', '.join(unused)}")


def k8s(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("Namespace", "Deployment", "Service", "PodDisruptionBudget",
                 "HorizontalPodAutoscaler", "ConfigMap", "Job", "NetworkPolicy"):
        check(kind in by_kind, f"k8s: no {kind}")
    check(all(d["kind"] != "Secret" for d in docs),
          "k8s: the kustomization renders a Secret (keep secrets out: secret.template.yaml)")
    for d in docs:
        if d["kind"] != "Namespace":
            check(d["metadata"].get("namespace") == "hotline",
                  f"k8s: {d['kind']}/{d['metadata']['name']} is not in namespace hotline")
    dep = next((d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "hotline-router"), None)
    if not check(dep is not None, "k8s: no Deployment hotline-router"):
        return
    pod = dep["spec"]["template"]["spec"]
    c = next(c for c in pod["containers"] if c["name"] == "router")
    check(dep["spec"].get("replicas") == 3, "k8s: router replicas != 3")
    check(c.get("readinessProbe", {}).get("grpc", {}).get("service") == "hotline.readiness",
          "k8s: readiness probe is not gRPC hotline.readiness")
    check(c.get("livenessProbe", {}).get("grpc", {}).get("service") == "hotline.liveness",
          "k8s: liveness probe is not gRPC hotline.liveness")
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "k8s: root filesystem not read-only")
    check(sc.get("allowPrivilegeEscalation") is False, "k8s: privilege escalation allowed")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "k8s: pod may run as root")
    check(c.get("resources", {}).get("requests", {}).get("cpu"), "k8s: no CPU request (the HPA needs it)")
    ports = sorted(p["containerPort"] for p in c.get("ports", []))
    check(ports == [8080, 50051], f"k8s: container ports {ports}")
    # Every file the environment names is mounted, and every mounted ConfigMap/Secret exists
    # (the generated names carry kustomize's hash suffix).
    env = {}
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    for ref in c.get("envFrom", []):
        if "configMapRef" in ref:
            name = ref["configMapRef"]["name"]
            check(name in cms, f"k8s: envFrom names a missing ConfigMap {name}")
            env.update(cms.get(name, {}).get("data", {}))
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    for var in ("HOTLINE_CATALOGUE", "HOTLINE_SLA_POLICY", "HOTLINE_HOLIDAYS_DIR", "HOTLINE_SIGNING_KEYS"):
        val = env.get(var)
        if check(val, f"k8s: {var} not set"):
            check(any(val == m or val.startswith(m + "/") for m in mounts),
                  f"k8s: {var}={val} is under no volume mount")
    check(env.get("HOTLINE_LISTEN") == "0.0.0.0:50051", "k8s: HOTLINE_LISTEN")
    check(env.get("HOTLINE_HTTP_LISTEN") == "0.0.0.0:8080", "k8s: HOTLINE_HTTP_LISTEN")
    for v in pod.get("volumes", []):
        if "configMap" in v:
            check(v["configMap"]["name"] in cms, f"k8s: volume {v['name']} names a missing ConfigMap")
    # The ConfigMaps carry exactly the shipped files (the copies under deploy/k8s/base/config).
    holidays = next((d for n, d in cms.items() if n.startswith("hotline-holidays")), {})
    shipped = sorted(p.name for p in (ROOT / "crates/sla/data/holidays").glob("[0-9][0-9][0-9][0-9].json"))
    check(sorted(holidays.get("data", {})) == shipped,
          f"k8s: holiday ConfigMap has {sorted(holidays.get('data', {}))}, the crate ships {shipped}")
    hpa = by_kind.get("HorizontalPodAutoscaler", [{}])[0]
    check(hpa.get("apiVersion") == "autoscaling/v2", "k8s: HPA is not autoscaling/v2")
    check(hpa.get("spec", {}).get("scaleTargetRef", {}).get("name") == "hotline-router", "k8s: HPA target")


def dockerfile():
    """COPY sources exist and are in the build context (not excluded by .dockerignore)."""
    text = (DEPLOY / "Dockerfile").read_text()
    ignored = [l.strip().rstrip("/") for l in (ROOT / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")]

    def excluded(rel):
        parts = rel.rstrip("/").split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(pre, pat) for pre in prefixes for pat in ignored)

    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        for src in words[1:-1]:
            if src.startswith("--") or src == ".":
                continue
            check((ROOT / src).exists(), f"Dockerfile: COPY {src}: no such file")
            check(not excluded(src), f"Dockerfile: COPY {src} is excluded by .dockerignore")
    for needed in ("Cargo.toml", "Cargo.lock", "crates", "proto", "migrations", "tests"):
        check(not excluded(needed), f".dockerignore excludes {needed}, which the build needs")
    check(re.search(r"^USER 10001", text, re.M), "Dockerfile: not USER 10001")
    check(re.search(r"^EXPOSE 50051 8080$", text, re.M), "Dockerfile: EXPOSE 50051 8080")
    check(re.search(r"^FROM debian:bookworm-slim", text, re.M), "Dockerfile: runtime is not bookworm-slim")


def env_names():
    """Every HOTLINE_* variable that deploy/ sets or documents is one the router reads: named in
    the code, or (where $HOTLINE_BIN is a built binary) in its --help."""
    known = set()
    for path in (ROOT / "crates").rglob("*.rs"):
        known.update(re.findall(r'"(HOTLINE_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    binary = os.environ.get("HOTLINE_BIN")
    if binary and os.access(binary, os.X_OK):
        for cmd in ("serve", "migrate", "staff"):
            try:
                out = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True,
                                     timeout=30, env={"PATH": os.environ.get("PATH", "")}).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            known.update(re.findall(r"\[env: (HOTLINE_[A-Z0-9_]+)=", out))
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.suffix in (".sh", ".json", ".txt") or "config" in path.parts:
            continue
        for name in sorted(set(re.findall(r"\b(HOTLINE_[A-Z0-9_]+)", path.read_text(encoding="utf-8")))):
            check(name in known, f"{path.relative_to(ROOT)}: {name} is read by no code of the router "
                  "(a flag not merged yet, or a typo)")


def copies():
    pairs = [("crates/routing/data/catalogue.txt", "deploy/k8s/base/config/catalogue.txt"),
             ("crates/sla/data/default_policy.toml", "deploy/k8s/base/config/sla.toml")]
    for p in sorted((ROOT / "crates/sla/data/holidays").glob("[0-9][0-9][0-9][0-9].json")):
        pairs.append((f"crates/sla/data/holidays/{p.name}", f"deploy/k8s/base/config/holidays/{p.name}"))
    for src, dst in pairs:
        check((ROOT / dst).exists() and filecmp.cmp(ROOT / src, ROOT / dst, shallow=False),
              f"{dst} differs from {src}: copy the shipped file again (cp {src} {dst})")


def dashboard_rules(out):
    """Writes every dashboard query as a recording rule, for `promtool check rules` to parse
    the PromQL (Grafana's variables replaced by plain values)."""
    rules = []
    for path in sorted((DEPLOY / "grafana/dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash.get("panels", []):
            for t in panel.get("targets", []):
                expr = (t.get("expr", "").replace("$__rate_interval", "5m")
                        .replace("$__interval", "1m"))
                # Template variables ($instance, $district, ...) stand in regex matchers.
                expr = re.sub(r"\$\w+", ".*", expr)
                rules.append({"record": f"dashboard:panel{panel['id']}_{t['refId']}:check", "expr": expr})
        for var in dash.get("templating", {}).get("list", []):
            q = var.get("definition", "")
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q)
            if m:
                rules.append({"record": f"dashboard:var_{var['name']}:check",
                              "expr": re.sub(r"\$\w+", ".*", m.group(1))})
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, open(out, "w"))
    print(f"{len(rules)} queries")


def k8s_env(path):
    """Prints the router's environment, KEY=VALUE: the rendered hotline-env ConfigMap, then the
    router container's own `env:` values (an overlay's)."""
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    for d in docs:
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("hotline-env"):
            for k, v in sorted(d["data"].items()):
                print(f"{k}={v}")
    for d in docs:
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "hotline-router":
            for c in d["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    if "value" in e:
                        print(f"{e['name']}={e['value']}")


if __name__ == "__main__":
    if sys.argv[1] == "--k8s-env":
        k8s_env(sys.argv[2])
        sys.exit(0)
    if sys.argv[1] == "--dashboard-rules":
        dashboard_rules(sys.argv[2])
        sys.exit(0)
    if sys.argv[1] == "--grafana":
        grafana()
        for f in failures:
            print(f"FAIL {f}")
        sys.exit(1 if failures else 0)
    compose(sys.argv[1])
    k8s(sys.argv[2])
    copies()
    dockerfile()
    env_names()
    for f in failures:
        print(f"FAIL {f}")
    sys.exit(1 if failures else 0)
