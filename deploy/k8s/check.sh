#!/usr/bin/env bash
# Checks the Rebound Kubernetes manifests; exits non-zero on any problem.
#
#   deploy/k8s/check.sh
#
# 1. Render: kustomize build (kustomize from PATH or /root/.cache/rebound/bin,
#    else `kubectl kustomize`); with neither, the files listed in
#    base/kustomization.yaml are parsed directly and its generators emulated
#    (REBOUND_K8S_RENDER=kustomize|kubectl|direct forces one way).
# 2. Structure (python3 + PyYAML, required): every document has apiVersion,
#    kind, metadata.name; each service has its Deployment, Service, PDB, HPA
#    and NetworkPolicy with the ports, probes, resources, securityContext,
#    env and references operators rely on; every REBOUND_* variable is a
#    setting the service's main.cc actually reads, in the base and (when a
#    renderer is there) in every overlay under overlays/.
# 3. Schemas (optional): when the PyPI package kubernetes-validate is
#    importable (python3, $REBOUND_K8S_PYTHON or the venv
#    /root/.cache/rebound/k8s-venv), strict OpenAPI-schema validation against
#    Kubernetes $K8S_VERSION (default 1.30.0, the oldest the preStop sleep
#    action is on by default); plus kubeconform -strict on schemas derived from
#    the same package when kubeconform is found. REBOUND_K8S_REQUIRE_SCHEMA=1
#    makes a missing validator an error.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
base="$here/base"
k8s_version="${K8S_VERSION:-1.30.0}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

find_tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"
  elif [[ -x "/root/.cache/rebound/bin/$1" ]]; then echo "/root/.cache/rebound/bin/$1"
  fi
}

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "check.sh: python3 with PyYAML is required (pip install pyyaml)" >&2
  exit 1
fi

# --- 1. render ---------------------------------------------------------------
# REBOUND_K8S_RENDER=kustomize|kubectl|direct forces one way.
mode=rendered
force="${REBOUND_K8S_RENDER:-}"
kustomize=""
[[ -z "$force" || "$force" == kustomize ]] && kustomize="$(find_tool kustomize)"
if [[ "$force" == kustomize && -z "$kustomize" ]]; then
  echo "check.sh: REBOUND_K8S_RENDER=kustomize but no kustomize found" >&2; exit 1
fi
if [[ -n "$kustomize" ]]; then
  echo "render: $kustomize build (default load restrictor: nothing outside base/)"
  "$kustomize" build "$base" >"$tmp/all.yaml"
elif [[ ( -z "$force" || "$force" == kubectl ) ]] && command -v kubectl >/dev/null 2>&1; then
  echo "render: kubectl kustomize (default load restrictor: nothing outside base/)"
  kubectl kustomize "$base" >"$tmp/all.yaml"
else
  if [[ "$force" == kubectl ]]; then echo "check.sh: no kubectl found" >&2; exit 1; fi
  mode=direct
  echo "render: parsing the files in base/kustomization.yaml directly (no kustomize build)"
fi

# The overlays too, when a renderer is there: their containers' REBOUND_*
# variables must be settings of the binary they run (a typo there would
# otherwise show only as a pod that exits at start).
overlays=()
if [[ "$mode" == rendered ]]; then
  for o in "$here"/overlays/*/; do
    o="${o%/}"
    out="$tmp/overlay-$(basename "$o").yaml"
    if [[ -n "$kustomize" ]]; then "$kustomize" build "$o" >"$out"; else kubectl kustomize "$o" >"$out"; fi
    overlays+=("$out")
  done
fi

# --- 2. structure ------------------------------------------------------------
python3 - "$mode" "$base" "$repo" "$tmp/all.yaml" "${overlays[@]}" <<'PY'
import json, os, re, sys
import yaml

mode, base, repo, rendered = sys.argv[1:5]
overlay_files = sys.argv[5:]
problems = []
def bad(where, msg): problems.append(f"{where}: {msg}")

# Load documents ------------------------------------------------------------
kz = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))
docs = []
if mode == "rendered":
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d is not None]
else:
    ns = kz.get("namespace")
    for res in kz.get("resources", []):
        for d in yaml.safe_load_all(open(os.path.join(base, res))):
            if d is None: continue
            if ns and d.get("kind") != "Namespace":
                d.setdefault("metadata", {}).setdefault("namespace", ns)
            docs.append(d)
    # Emulate configMapGenerator (names without the hash suffix).
    for g in kz.get("configMapGenerator", []):
        data = {}
        for lit in g.get("literals", []):
            k, _, v = lit.partition("=")
            data[k] = v
        for f in g.get("files", []):
            k, _, p = f.partition("=")
            if not p: k, p = os.path.basename(k), k
            path = os.path.normpath(os.path.join(base, p))
            if not os.path.isfile(path):
                bad(f"configMapGenerator {g['name']}", f"file {p} not found")
                continue
            data[k] = open(path).read()
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": g["name"], "namespace": ns}, "data": data})

# Every document ---------------------------------------------------------------
objs = {}
for i, d in enumerate(docs):
    where = f"document {i}"
    if not isinstance(d, dict):
        bad(where, "not a mapping"); continue
    for f in ("apiVersion", "kind"):
        if not d.get(f): bad(where, f"missing {f}")
    name = (d.get("metadata") or {}).get("name")
    if not name: bad(where, "missing metadata.name"); continue
    kind = d.get("kind")
    if kind != "Namespace" and (d["metadata"].get("namespace") != "rebound"):
        bad(f"{kind}/{name}", "not in namespace rebound")
    if (kind, name) in objs: bad(f"{kind}/{name}", "defined twice")
    objs[(kind, name)] = d

def get(kind, name):
    return objs.get((kind, name))

def configmap(prefix):
    """The ConfigMap generated as `prefix` (hash suffix when rendered)."""
    for (k, n), d in objs.items():
        if k == "ConfigMap" and re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", n):
            return d
    return None

if not get("Namespace", "rebound"): bad("Namespace/rebound", "missing")

# The configs come with the images (/etc/rebound, from config/): the
# Containerfile must install each one the base points a service at.
containerfile = open(os.path.join(repo, "deploy", "containers", "Containerfile")).read()
for svc, key in (("scoring", "classifier.json"), ("scoring", "retry_policy.json"),
                 ("notify", "retry_policy.json")):
    if not re.search(r"/config/" + re.escape(key) + r"\s+/out/" + svc + r"/etc/rebound/", containerfile):
        bad("deploy/containers/Containerfile", f"does not install config/{key} at /etc/rebound in the {svc} image")
ep = configmap("rebound-endpoints")
if not ep:
    bad("ConfigMap rebound-endpoints", "missing")
else:
    for key in ("kafka-brokers", "redis-addr"):
        if not (ep.get("data") or {}).get(key):
            bad("ConfigMap rebound-endpoints", f"no key {key}")

# Settings each binary reads (from its main.cc, plus the shared readers in
# common/ it calls, e.g. ReadGrpcConnectionOptions), to catch misspelt
# variables.
SETTING = r'\bc\.(?:String|RequiredString|Int|Double|Bool|Duration)\(\s*"([a-z0-9-]+)"'

def shared_readers():
    # name -> (settings it reads, bodies' text: readers may call readers)
    readers = {}
    for name in os.listdir(os.path.join(repo, "common")):
        if not name.endswith(".cc"): continue
        text = open(os.path.join(repo, "common", name)).read()
        for m in re.finditer(r'\n\w[\w:<>]*\s+(Read\w+)\(ConfigReader& c[^)]*\)\s*\{(.*?)\n\}', text, re.S):
            readers[m.group(1)] = (set(re.findall(SETTING, m.group(2))), m.group(2))
    return readers

def settings_of(svc):
    path = os.path.join(repo, "services", svc, "main.cc")
    if not os.path.isfile(path): return None
    text = open(path).read()
    names = set(re.findall(SETTING, text))
    readers = shared_readers()
    todo, seen = [text], set()
    while todo:
        body = todo.pop()
        for reader, (extra, inner) in readers.items():
            if reader in seen or not re.search(r'\b' + reader + r'\(', body): continue
            seen.add(reader)
            names |= extra
            todo.append(inner)
    return {"REBOUND_" + n.upper().replace("-", "_") for n in names}

SERVICES = {
    # name: (grpc port, metrics port, needs redis, [(config env, config file)])
    "ingest":  (50051, 9464, False, []),
    "scoring": (50052, 9465, True, [("REBOUND_CLASSIFIER_CONFIG", "classifier.json"),
                                    ("REBOUND_RETRY_POLICY", "retry_policy.json")]),
    "notify":  (50053, 9466, True, [("REBOUND_RETRY_POLICY", "retry_policy.json")]),
}

def port_num(container, p):
    if isinstance(p, int): return p
    for cp in container.get("ports", []):
        if cp.get("name") == p: return cp.get("containerPort")
    return None

def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

for svc, (grpc, metrics, redis, configs) in SERVICES.items():
    name = f"rebound-{svc}"
    dep = get("Deployment", name)
    if not dep:
        bad(f"Deployment/{name}", "missing"); continue
    w = f"Deployment/{name}"
    spec = dep.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    pod_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    if not matches(sel, pod_labels): bad(w, "selector does not match the pod labels")
    if pod.get("terminationGracePeriodSeconds") != 30:
        bad(w, "terminationGracePeriodSeconds is not 30")
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True: bad(w, "pod securityContext.runAsNonRoot is not true")
    if psc.get("runAsUser") != 65532: bad(w, "pod securityContext.runAsUser is not 65532")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        bad(w, "pod seccompProfile is not RuntimeDefault")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        bad(w, "expected one container"); continue
    c = containers[0]
    wc = f"{w} container {c.get('name')}"
    if not str(c.get("image", "")).startswith(f"rebound/{svc}:") and "@" not in str(c.get("image", "")):
        bad(wc, f"image {c.get('image')!r} is not rebound/{svc}:TAG")
    if c.get("command") != [f"/usr/local/bin/rebound-{svc}"]:
        bad(wc, f"command is not [/usr/local/bin/rebound-{svc}]")
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if ports.get("grpc") != grpc: bad(wc, f"port grpc is not {grpc}")
    if ports.get("metrics") != metrics: bad(wc, f"port metrics is not {metrics}")
    # Probes.
    rp = c.get("readinessProbe") or {}
    if (rp.get("grpc") or {}).get("port") != grpc:
        bad(wc, f"readinessProbe is not a native gRPC probe on {grpc}")
    for probe in ("livenessProbe", "startupProbe"):
        p = c.get(probe)
        if not p: bad(wc, f"no {probe}"); continue
        handler = [k for k in ("grpc", "tcpSocket", "httpGet", "exec") if k in p]
        if len(handler) != 1: bad(wc, f"{probe} needs exactly one handler")
        elif handler[0] in ("grpc", "tcpSocket") and port_num(c, p[handler[0]].get("port")) != grpc:
            bad(wc, f"{probe} does not target the gRPC port {grpc}")
    # Resources.
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if not (res.get(part) or {}).get(r): bad(wc, f"no resources.{part}.{r}")
    # Container securityContext.
    sc = c.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False: bad(wc, "allowPrivilegeEscalation is not false")
    if sc.get("readOnlyRootFilesystem") is not True: bad(wc, "readOnlyRootFilesystem is not true")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []): bad(wc, "capabilities do not drop ALL")
    if sc.get("privileged"): bad(wc, "privileged")
    # Environment.
    env = {e.get("name"): e for e in c.get("env", [])}
    def value(n): return (env.get(n) or {}).get("value")
    def ref(n, kind):
        return ((env.get(n) or {}).get("valueFrom") or {}).get(kind) or {}
    if value("REBOUND_LISTEN") != f"0.0.0.0:{grpc}": bad(wc, f"REBOUND_LISTEN is not 0.0.0.0:{grpc}")
    if value("REBOUND_METRICS_LISTEN") != f"0.0.0.0:{metrics}":
        bad(wc, f"REBOUND_METRICS_LISTEN is not 0.0.0.0:{metrics}")
    want_refs = [("REBOUND_KAFKA_BROKERS", "kafka-brokers")] + ([("REBOUND_REDIS_ADDR", "redis-addr")] if redis else [])
    for var, key in want_refs:
        r = ref(var, "configMapKeyRef")
        if r.get("key") != key or not ep or r.get("name") != ep["metadata"]["name"]:
            bad(wc, f"{var} is not configMapKeyRef rebound-endpoints/{key}")
    if not redis and "REBOUND_REDIS_ADDR" in env: bad(wc, "REBOUND_REDIS_ADDR set but unused")
    # Tokens come from the Secret mounted as a file, never an env variable,
    # and the service must not be told to run without auth.
    if "REBOUND_TENANT_TOKENS" in env: bad(wc, "REBOUND_TENANT_TOKENS set (mount the Secret as a file)")
    if "REBOUND_INSECURE_NO_AUTH" in env: bad(wc, "REBOUND_INSECURE_NO_AUTH set")
    if value("REBOUND_TENANT_TOKENS_FILE") != "/etc/rebound-tokens/tokens":
        bad(wc, "REBOUND_TENANT_TOKENS_FILE is not /etc/rebound-tokens/tokens")
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    tv = (vols.get("tenant-tokens") or {}).get("secret") or {}
    if tv.get("secretName") != "rebound-tenant-tokens" or tv.get("optional"):
        bad(w, "volume tenant-tokens is not the (required) Secret rebound-tenant-tokens")
    tm = [m for m in c.get("volumeMounts") or [] if m.get("name") == "tenant-tokens"]
    if len(tm) != 1 or tm[0].get("mountPath") != "/etc/rebound-tokens" or tm[0].get("readOnly") is not True:
        bad(wc, "tenant-tokens is not mounted read-only at /etc/rebound-tokens")
    for cfg_env, cfg_file in configs:
        path = f"/etc/rebound/{cfg_file}"
        if value(cfg_env) != path: bad(wc, f"{cfg_env} is not {path}")
        # The base keeps the image's /etc/rebound (an overlay may mount a
        # ConfigMap there).
        if any(m.get("mountPath") == "/etc/rebound" for m in c.get("volumeMounts") or []):
            bad(wc, "the base mounts over /etc/rebound, where the image's config is")
    known = settings_of(svc)
    if known is not None:
        for var in env:
            if var.startswith("REBOUND_") and var not in known:
                bad(wc, f"{var} is not a setting of rebound-{svc} (services/{svc}/main.cc)")

    # Service.
    s = get("Service", name)
    if not s: bad(f"Service/{name}", "missing")
    else:
        sp = {p.get("name"): p for p in (s.get("spec") or {}).get("ports", [])}
        for pn, num in (("grpc", grpc), ("metrics", metrics)):
            p = sp.get(pn)
            if not p or p.get("port") != num or port_num(c, p.get("targetPort", num)) != num:
                bad(f"Service/{name}", f"port {pn} is not {num}")
        if not matches((s.get("spec") or {}).get("selector"), pod_labels):
            bad(f"Service/{name}", "selector does not match the pods")
    # PodDisruptionBudget.
    pdb = get("PodDisruptionBudget", name)
    if not pdb: bad(f"PodDisruptionBudget/{name}", "missing")
    else:
        if pdb.get("apiVersion") != "policy/v1": bad(f"PodDisruptionBudget/{name}", "not policy/v1")
        if (pdb.get("spec") or {}).get("minAvailable") != 1: bad(f"PodDisruptionBudget/{name}", "minAvailable is not 1")
        if not matches(((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels"), pod_labels):
            bad(f"PodDisruptionBudget/{name}", "selector does not match the pods")
    # HorizontalPodAutoscaler.
    hpa = get("HorizontalPodAutoscaler", name)
    if not hpa: bad(f"HorizontalPodAutoscaler/{name}", "missing")
    else:
        hs = hpa.get("spec") or {}
        wh = f"HorizontalPodAutoscaler/{name}"
        if hpa.get("apiVersion") != "autoscaling/v2": bad(wh, "not autoscaling/v2")
        t = hs.get("scaleTargetRef") or {}
        if (t.get("kind"), t.get("name")) != ("Deployment", name): bad(wh, f"does not target Deployment/{name}")
        if hs.get("minReplicas") != 2 or hs.get("maxReplicas") != 10: bad(wh, "replicas are not 2..10")
        cpu = [m for m in hs.get("metrics", []) if (m.get("resource") or {}).get("name") == "cpu"]
        if not cpu or cpu[0]["resource"].get("target", {}).get("averageUtilization") != 70:
            bad(wh, "no CPU target of 70%")
        if "replicas" in spec: bad(w, "sets replicas although the HPA owns them")
    # NetworkPolicy.
    np_ = get("NetworkPolicy", name)
    wn = f"NetworkPolicy/{name}"
    if not np_: bad(wn, "missing")
    else:
        ns_ = np_.get("spec") or {}
        if not matches((ns_.get("podSelector") or {}).get("matchLabels"), pod_labels):
            bad(wn, "podSelector does not match the pods")
        if set(ns_.get("policyTypes", [])) != {"Ingress", "Egress"}: bad(wn, "policyTypes is not Ingress+Egress")
        ing_ports = {}
        for rule in ns_.get("ingress", []):
            for p in rule.get("ports", []):
                ing_ports.setdefault(p.get("port"), []).append(rule.get("from"))
        if set(ing_ports) != {grpc, metrics}: bad(wn, f"ingress ports {sorted(ing_ports)} are not [{grpc}, {metrics}]")
        mon = ing_ports.get(metrics) or [None]
        if not all(f and all(((x.get("namespaceSelector") or {}).get("matchLabels") or {})
                             .get("kubernetes.io/metadata.name") == "monitoring" for x in f) for f in mon):
            bad(wn, "metrics port is open to more than namespace monitoring")
        eg = {(p.get("port"), p.get("protocol", "TCP")) for r in ns_.get("egress", []) for p in r.get("ports", [])}
        want = {(9092, "TCP"), (53, "UDP"), (53, "TCP")} | ({(6379, "TCP")} if redis else set())
        if eg != want: bad(wn, f"egress ports {sorted(eg)} are not {sorted(want)}")
        # Egress says where it goes, and namespaces are chosen by name: the
        # kubernetes.io/metadata.name label is set by the API server, any
        # other namespace label by whoever owns that namespace.
        def by_name(sel):
            labels = sel.get("matchLabels") or {}
            exprs = sel.get("matchExpressions") or []
            return (set(labels) == {"kubernetes.io/metadata.name"} and not exprs) or \
                   (not labels and exprs and all(e.get("key") == "kubernetes.io/metadata.name" for e in exprs))
        for r in ns_.get("egress", []):
            if not r.get("to"): bad(wn, "an egress rule goes anywhere (no to:)")
            for peer in r.get("to") or []:
                if "namespaceSelector" in peer and not by_name(peer["namespaceSelector"] or {}):
                    bad(wn, "an egress namespaceSelector does not select by kubernetes.io/metadata.name")
        for r in ns_.get("ingress", []):
            for peer in r.get("from") or []:
                if "namespaceSelector" in peer and not by_name(peer["namespaceSelector"] or {}):
                    bad(wn, "an ingress namespaceSelector does not select by kubernetes.io/metadata.name")

# The rebuild after a state loss: a CronJob that never runs by itself, whose
# containers (scoring's rebuild first, as an init container, then notify's)
# reach the services' Kafka and Redis with the services' settings.
cj = get("CronJob", "rebound-rebuild-state")
if not cj:
    bad("CronJob/rebound-rebuild-state", "missing")
else:
    w = "CronJob/rebound-rebuild-state"
    cspec = cj.get("spec") or {}
    if cspec.get("suspend") is not True: bad(w, "not suspended (it would rebuild on its schedule)")
    if cspec.get("concurrencyPolicy") != "Forbid": bad(w, "concurrencyPolicy is not Forbid")
    pod = ((((cspec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")) or {}
    if pod.get("restartPolicy") != "Never": bad(w, "restartPolicy is not Never")
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") != 65532:
        bad(w, "pod does not run as non-root user 65532")
    inits, mains = pod.get("initContainers") or [], pod.get("containers") or []
    if [c.get("name") for c in inits] != ["scoring"] or [c.get("name") for c in mains] != ["notify"]:
        bad(w, "expected init container scoring, then container notify")
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    if ((vols.get("tenant-tokens") or {}).get("secret") or {}).get("secretName") != "rebound-tenant-tokens":
        bad(w, "volume tenant-tokens is not the Secret rebound-tenant-tokens")
    for c in inits + mains:
        svc = c.get("name")
        wc = f"{w} container {svc}"
        dep = get("Deployment", f"rebound-{svc}")
        dep_c = (((((dep or {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}])[0]
        if c.get("image") != dep_c.get("image"):
            bad(wc, f"image {c.get('image')!r} is not the Deployment's {dep_c.get('image')!r}")
        if c.get("command") != [f"/usr/local/bin/rebound-{svc}"]:
            bad(wc, f"command is not [/usr/local/bin/rebound-{svc}]")
        env = {e.get("name"): e for e in c.get("env", [])}
        if (env.get("REBOUND_REBUILD_STATE") or {}).get("value") != "true":
            bad(wc, "REBOUND_REBUILD_STATE is not \"true\"")
        dep_env = {e.get("name"): e for e in dep_c.get("env", [])}
        for var in ("REBOUND_KAFKA_BROKERS", "REBOUND_REDIS_ADDR", "REBOUND_TENANT_TOKENS_FILE",
                    "REBOUND_CLASSIFIER_CONFIG", "REBOUND_RETRY_POLICY"):
            if var in dep_env and env.get(var) != dep_env[var]:
                bad(wc, f"{var} is not as the Deployment sets it")
        known = settings_of(svc)
        for var in env:
            if var.startswith("REBOUND_") and known is not None and var not in known:
                bad(wc, f"{var} is not a setting of rebound-{svc} (services/{svc}/main.cc)")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True \
                or "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            bad(wc, "securityContext is not hardened as the services' are")
        res = c.get("resources") or {}
        if not all((res.get(p) or {}).get(r) for p in ("requests", "limits") for r in ("cpu", "memory")):
            bad(wc, "resources requests and limits are not all set")
        tm = [m for m in c.get("volumeMounts") or [] if m.get("name") == "tenant-tokens"]
        if len(tm) != 1 or tm[0].get("mountPath") != "/etc/rebound-tokens" or tm[0].get("readOnly") is not True:
            bad(wc, "tenant-tokens is not mounted read-only at /etc/rebound-tokens")

# Every container running a Rebound binary, in every overlay: its REBOUND_*
# variables are settings of that binary.
for path in overlay_files:
    name = os.path.basename(path)[len("overlay-"):-len(".yaml")]
    for d in yaml.safe_load_all(open(path)):
        if not d or d.get("kind") not in ("Deployment", "StatefulSet", "Job", "CronJob"): continue
        spec = d.get("spec") or {}
        if d["kind"] == "CronJob": spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        pod = ((spec.get("template") or {}).get("spec")) or {}
        for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            cmd = (c.get("command") or [""])[0]
            m = re.fullmatch(r"/usr/local/bin/rebound-(\w+)", cmd)
            known = settings_of(m.group(1)) if m else None
            if known is None: continue
            for e in c.get("env") or []:
                var = e.get("name", "")
                if var.startswith("REBOUND_") and var not in known:
                    bad(f"overlay {name}: {d['kind']}/{d['metadata']['name']} container {c.get('name')}",
                        f"{var} is not a setting of rebound-{m.group(1)} (services/{m.group(1)}/main.cc)")
if overlay_files:
    print(f"overlays: {len(overlay_files)} rendered, their REBOUND_* variables checked")
elif mode == "rendered":
    print("overlays: none")
else:
    print("overlays: not checked (no kustomize or kubectl to render them)")

kinds = {}
for (k, n) in objs: kinds[k] = kinds.get(k, 0) + 1
print("structure: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
for p in problems: print("PROBLEM " + p, file=sys.stderr)
if problems:
    print(f"structure: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1)
print("structure: ok")
PY

# --- 3. schemas (optional) ---------------------------------------------------
kv_python=""
for py in "${REBOUND_K8S_PYTHON:-}" python3 /root/.cache/rebound/k8s-venv/bin/python; do
  if [[ -n "$py" ]] && "$py" -c 'import kubernetes_validate' 2>/dev/null; then kv_python="$py"; break; fi
done
if [[ -z "$kv_python" ]]; then
  msg="schemas: skipped (pip install kubernetes-validate to enable)"
  if [[ "${REBOUND_K8S_REQUIRE_SCHEMA:-0}" == 1 ]]; then echo "$msg" >&2; exit 1; fi
  echo "$msg"
  exit 0
fi
if [[ "$mode" == rendered ]]; then
  files=("$tmp/all.yaml")
else
  mapfile -t files < <(python3 -c 'import sys,yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["resources"]))' "$base/kustomization.yaml" | sed "s#^#$base/#")
fi
"$kv_python" -m kubernetes_validate --strict --quiet -k "$k8s_version" "${files[@]}"
echo "schemas: kubernetes-validate --strict, Kubernetes $k8s_version: ok"

kubeconform="$(find_tool kubeconform)"
if [[ -n "$kubeconform" ]]; then
  # kubeconform wants standalone schemas; inline the package's $refs for the
  # kinds used here.
  "$kv_python" - "$k8s_version" "$tmp/schemas" <<'PY'
import json, os, sys, kubernetes_validate
version, out = sys.argv[1], sys.argv[2]
src = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema",
                   f"v{version}-local-strict")
dst = os.path.join(out, f"v{version}-standalone-strict")
os.makedirs(dst)
defs = json.load(open(os.path.join(src, "_definitions.json")))
defs = defs.get("$defs") or defs["definitions"]
def inline(node, stack=()):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            name = ref.split("#/$defs/")[1]
            if name in stack: return {}
            rest = {k: inline(v, stack) for k, v in node.items() if k != "$ref"}
            return {**inline(defs[name], stack + (name,)), **rest}
        return {k: inline(v, stack) for k, v in node.items()}
    if isinstance(node, list): return [inline(v, stack) for v in node]
    return node
for f in ("namespace-v1", "configmap-v1", "service-v1", "deployment-apps-v1", "cronjob-batch-v1",
          "poddisruptionbudget-policy-v1", "horizontalpodautoscaler-autoscaling-v2",
          "networkpolicy-networking-v1"):
    with open(os.path.join(dst, f + ".json"), "w") as fh:
        json.dump(inline(json.load(open(os.path.join(src, f + ".json")))), fh)
PY
  "$kubeconform" -strict -summary -kubernetes-version "$k8s_version" \
    -schema-location "$tmp/schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    "${files[@]}"
fi
echo "check.sh: all checks passed"
