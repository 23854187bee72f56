"""The Kubernetes manifests in deploy/k8s agree with the code they deploy.

PyYAML is not a dependency, so the manifests are read with a small parser for the
block-style subset they are written in (mappings, sequences, plain and quoted
scalars, JSON-style flow lists, comments, ``---``). When ``kubectl`` is on PATH, its
offline YAML parser (``kubectl label --local -o json``) must read the same documents;
with ``kubeconform`` the files are also checked against the Kubernetes schemas.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from verify.bootstrap import create_app
from verify.http.ops import create_ops_app
from verify.server import SHUTDOWN_TIMEOUT_S
from verify.settings import Secret, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
CONFIG_MAP = "citizen-verify-config"
SECRET = "citizen-verify-secrets"
SECRET_KEYS = {
    "VERIFY_DATABASE_URL",
    "VERIFY_DATABASE_READ_URLS",
    "VERIFY_REDIS_URL",
    "VERIFY_HMAC_KEY",
    "VERIFY_CACHE_KEY",
}
# the owner's URL in a Secret of its own: only the Job and the CronJob read it
ADMIN_SECRET = "citizen-verify-admin"
ADMIN_KEYS = {"VERIFY_ADMIN_DATABASE_URL"}
PLACEHOLDER = "REPLACE_ME"
API = "citizen-verify"
WORKER = "citizen-verify-worker"

Doc = dict[str, Any]


# ------------------------------------------------------------ a YAML subset


class YamlSubsetError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == 0 or line[i - 1] in " :[,-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] == " "):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(raw: str) -> Any:
    s = raw.strip()
    if s[:1] in ("[", "{", '"'):
        return json.loads(s)  # flow collections are written as JSON in these files
    if s[:1] == "'":
        return s[1:-1].replace("''", "'")
    if s in ("", "~", "null"):
        return None
    if s in ("true", "false"):
        return s == "true"
    if re.fullmatch(r"[-+]?\d+", s):
        return int(s)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?", s):
        return float(s)
    if s[:1] in ("|", ">", "&", "*", "!"):
        raise YamlSubsetError(f"unsupported YAML: {s!r}")
    return s


class _Parser:
    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.lines = lines
        self.i = 0

    def block(self, indent: int) -> Any:
        if self.lines[self.i][1].startswith("-"):
            return self.sequence(indent)
        return self.mapping(indent)

    def _child(self, indent: int) -> Any:
        if self.i >= len(self.lines):
            return None
        ind, text = self.lines[self.i]
        if ind > indent or (ind == indent and text.startswith("- ")):
            return self.block(ind)
        return None

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.i < len(self.lines):
            ind, text = self.lines[self.i]
            if ind != indent or not (text == "-" or text.startswith("- ")):
                break
            rest = text[1:].strip()
            if not rest:
                self.i += 1
                items.append(self._child(indent))
            elif re.match(r"[^\s\"'\[{][^:]*:(\s|$)", rest):
                # "- key: value" opens a mapping indented past the dash
                self.lines[self.i] = (indent + 2, rest)
                items.append(self.mapping(indent + 2))
            else:
                self.i += 1
                items.append(_scalar(rest))
        return items

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            ind, text = self.lines[self.i]
            if ind < indent or (ind == indent and text.startswith("- ")):
                break
            if ind > indent:
                raise YamlSubsetError(f"unexpected indentation: {text!r}")
            match = re.fullmatch(r"([^\s:\"'][^:]*|\"[^\"]*\"):(?:\s+(.*))?", text)
            if match is None:
                raise YamlSubsetError(f"not a mapping entry: {text!r}")
            key = match.group(1).strip('"')
            if key in out:
                raise YamlSubsetError(f"duplicate key {key!r}")
            self.i += 1
            value = match.group(2)
            out[key] = self._child(indent) if value is None else _scalar(value)
        return out


def load_yaml_documents(text: str) -> list[Any]:
    docs: list[Any] = []
    for chunk in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        lines = []
        for raw in chunk.splitlines():
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise YamlSubsetError("tab in indentation")
            line = _strip_comment(raw)
            if line.strip():
                lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
        if not lines:
            continue
        parser = _Parser(lines)
        docs.append(parser.block(lines[0][0]))
        if parser.i != len(lines):
            raise YamlSubsetError(f"unparsed line: {lines[parser.i][1]!r}")
    return docs


def test_the_subset_parser() -> None:
    text = (
        '# c\na:\n  b: 1\n  c: "x # y"\n  d:\n  - e: true\n    f: ["g", "h"]\n'
        "  - 2.5\n  i: 25%\n---\nj: 'k'\n"
    )
    assert load_yaml_documents(text) == [
        {"a": {"b": 1, "c": "x # y", "d": [{"e": True, "f": ["g", "h"]}, 2.5], "i": "25%"}},
        {"j": "k"},
    ]
    with pytest.raises(YamlSubsetError):
        load_yaml_documents("a: |\n  b\n")


# ------------------------------------------------------------ the manifests


def manifest_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def load_all() -> dict[Path, list[Doc]]:
    return {path: load_yaml_documents(path.read_text()) for path in manifest_files()}


def docs_of_kind(kind: str) -> list[Doc]:
    return [doc for docs in load_all().values() for doc in docs if doc["kind"] == kind]


def only(kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs_of_kind(kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, Doc]]:
    """(workload name, pod spec) of the Deployment, the Job and the CronJob."""
    for doc in load_all().values():
        for d in doc:
            spec = d.get("spec", {})
            if d["kind"] == "CronJob":
                spec = spec["jobTemplate"]["spec"]
            if "template" in spec:
                yield d["metadata"]["name"], spec["template"]


def api_container() -> Doc:
    containers = only("Deployment", API)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def setting_names() -> set[str]:
    """Every VERIFY_* variable verify/settings.py reads."""
    source = (ROOT / "verify" / "settings.py").read_text()
    names = set(re.findall(r"\"(VERIFY_[A-Z0-9_]+)\"", source))
    assert len(names) > 20, "verify/settings.py no longer reads its names as literals?"
    return names


def dummy_env() -> dict[str, str]:
    key = base64.b64encode(b"k" * 32).decode()
    return {
        "VERIFY_DATABASE_URL": "postgresql://u:p@db.invalid/verify",
        "VERIFY_REDIS_URL": "redis://redis.invalid:6379/0",
        "VERIFY_HMAC_KEY": key,
        "VERIFY_CACHE_KEY": key,
    }


def test_every_file_parses_into_named_objects() -> None:
    files = load_all()
    assert {p.name for p in files} >= {
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "configmap.yaml",
        "secret.example.yaml",
        "migrate-job.yaml",
        "maintenance-cronjob.yaml",
        "networkpolicy.yaml",
        "worker-deployment.yaml",
    }
    seen: set[tuple[str, str]] = set()
    for path, docs in files.items():
        assert docs, path
        for doc in docs:
            assert isinstance(doc, dict), path
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
            meta = doc["metadata"]
            assert "namespace" not in meta, f"{path.name}: manifests are namespace-agnostic"
            assert meta["labels"]["app.kubernetes.io/part-of"] == "citizen-verify"
            ident = (doc["kind"], meta["name"])
            assert ident not in seen, f"{ident} defined twice"
            seen.add(ident)


def test_env_names_are_real_settings() -> None:
    names = setting_names()
    for workload, template in pod_specs():
        for container in template["spec"]["containers"]:
            for env in container.get("env", []):
                if env["name"].startswith("VERIFY_"):
                    assert env["name"] in names, f"{workload}: {env['name']} is not a setting"
    for path in manifest_files():  # also names in comments and flow text
        for name in re.findall(r"\bVERIFY_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
            assert name in names, f"{path.name} mentions {name}, which no setting reads"


def test_config_map_and_secret_cover_every_setting_once() -> None:
    config = only("ConfigMap", CONFIG_MAP)["data"]
    secret = only("Secret", SECRET)["stringData"]
    pinned = {e["name"] for e in api_container()["env"] if "value" in e}
    names = setting_names()
    assert set(secret) == SECRET_KEYS
    assert set(only("Secret", ADMIN_SECRET)["stringData"]) == ADMIN_KEYS
    assert pinned == {"VERIFY_HOST", "VERIFY_PORT", "VERIFY_METRICS_PORT", "VERIFY_WORKERS"}
    assert not (set(config) & (SECRET_KEYS | ADMIN_KEYS)), "secret settings belong in a Secret"
    assert not (set(config) & pinned)
    assert set(config) | SECRET_KEYS | ADMIN_KEYS | pinned == names
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values are strings"


def test_config_map_holds_the_defaults() -> None:
    config = only("ConfigMap", CONFIG_MAP)["data"]
    from_config = Settings.from_env({**dummy_env(), **config})
    defaults = Settings.from_env(dummy_env())
    assert from_config == defaults


def test_deployment_reads_the_config_map_and_the_secret() -> None:
    container = api_container()
    assert {"configMapRef": {"name": CONFIG_MAP}} in container["envFrom"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(refs) == SECRET_KEYS
    for name, ref in refs.items():
        assert ref["name"] == SECRET and ref["key"] == name
        assert ref.get("optional", False) == (name == "VERIFY_DATABASE_READ_URLS")
    pinned = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    settings = Settings.from_env({**dummy_env(), **pinned})
    assert settings.host == "0.0.0.0"
    assert settings.workers == 1, "one process per container: no multiprocess metrics"
    assert container["args"] == ["serve", "--host", "0.0.0.0"]
    assert ADMIN_SECRET not in str(container), "the API pods never get the owner's URL"
    for workload, template in pod_specs():
        if workload != "citizen-verify":
            (job,) = template["spec"]["containers"]
            assert {"configMapRef": {"name": CONFIG_MAP}} in job["envFrom"]
            assert {"secretRef": {"name": SECRET}} in job["envFrom"]
            if workload == WORKER:  # serves jobs as the serving role, like the API
                assert ADMIN_SECRET not in str(job), "the worker never gets the owner's URL"
            else:
                assert {"secretRef": {"name": ADMIN_SECRET}} in job["envFrom"]


def test_jobs_run_real_commands() -> None:
    from verify.cli import _parser

    commands = {name: t["spec"]["containers"][0]["args"] for name, t in pod_specs()}
    assert commands["citizen-verify-migrate"] == ["migrate"]
    assert commands["citizen-verify-maintenance"] == ["maintenance"]
    assert commands[WORKER] == ["worker"]
    for args in commands.values():
        _parser().parse_args(args)  # exits (SystemExit) on an unknown command
    cron = only("CronJob")["spec"]
    assert cron["schedule"].split()[1:] == ["*", "*", "*", "*"], "hourly"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert only("Job")["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def _get_paths(app: web.Application) -> set[str]:
    return {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    }


def test_probe_paths_are_served_on_their_ports() -> None:
    fields = dummy_env()
    settings = Settings(
        database_url=fields["VERIFY_DATABASE_URL"],
        redis_url=fields["VERIFY_REDIS_URL"],
        hmac_key=Secret(b"h" * 32),
        cache_key=Secret(b"c" * 32),
    )
    app = create_app(settings)  # connects to nothing until started
    served = {"http": _get_paths(app), "ops": _get_paths(create_ops_app(app))}
    container = api_container()
    probes = {
        k: (container[k]["httpGet"]["port"], container[k]["httpGet"]["path"])
        for k in container
        if k.endswith("Probe")
    }
    assert probes == {
        "startupProbe": ("http", "/healthz"),
        "livenessProbe": ("http", "/healthz"),
        "readinessProbe": ("ops", "/readyz"),
    }
    for port, path in probes.values():
        assert path in served[port], (port, path)
    assert "/readyz" not in served["http"] and "/metrics" not in served["http"]
    assert "/metrics" in served["ops"]


def test_ports_match_the_settings_default() -> None:
    container = api_container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": Settings.port, "ops": Settings.metrics_port}
    pinned = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert pinned["VERIFY_PORT"] == str(Settings.port)
    assert pinned["VERIFY_METRICS_PORT"] == str(Settings.metrics_port)
    service = only("Service", "citizen-verify")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert "EXPOSE 8080" in (ROOT / "Dockerfile").read_text()


def test_selectors_pick_only_the_api_pods() -> None:
    deployment = only("Deployment", API)["spec"]
    selector = deployment["selector"]["matchLabels"]
    labels = deployment["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "citizen-verify"
    assert selector.items() <= labels.items()
    for service in docs_of_kind("Service"):
        if not service["metadata"]["name"].startswith(WORKER):
            assert service["spec"]["selector"] == selector
    assert only("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    for workload, template in pod_specs():
        if workload != "citizen-verify":
            job_labels = template["metadata"]["labels"]
            assert not selector.items() <= job_labels.items(), f"{workload} pods match"


def test_headless_service_matches_prometheus() -> None:
    text = PROMETHEUS.read_text()
    match = re.search(r"names:\s*\[\s*([a-z0-9.-]+)\s*\]", text)
    port = re.search(r"dns_sd_configs:(?:.|\n)*?\bport:\s*(\d+)", text)
    assert match and port, "prometheus.yml: no dns_sd_configs target"
    service_name, namespace, *_ = match.group(1).split(".")
    assert namespace == "citizen-verify", "the README's namespace"
    headless = only("Service", service_name)["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True, "scrape pods whose database is down"
    scrape_port = int(port.group(1))
    assert scrape_port in {p["port"] for p in headless["ports"]}
    assert scrape_port == Settings.metrics_port, "Prometheus scrapes the operations port"
    (ops,) = headless["ports"]
    assert ops["targetPort"] == "ops"
    assert "kubectl create namespace citizen-verify" in (K8S / "README.md").read_text()


def test_shutdown_fits_the_grace_period() -> None:
    pod = only("Deployment", API)["spec"]["template"]["spec"]
    container = api_container()
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    pre_stop = int(sleep[1])
    assert pre_stop >= 5
    drain = float(only("ConfigMap")["data"]["VERIFY_DRAIN_SECONDS"])
    assert drain >= 2 * float(container["readinessProbe"]["periodSeconds"])  # probes see it
    grace = pre_stop + drain + SHUTDOWN_TIMEOUT_S + 10
    assert pod["terminationGracePeriodSeconds"] > grace


def test_worker_drains_within_its_grace_period_and_is_scraped() -> None:
    worker = only("Deployment", WORKER)
    pod = worker["spec"]["template"]["spec"]
    settings = Settings.from_env({**dummy_env(), **only("ConfigMap", CONFIG_MAP)["data"]})
    assert pod["terminationGracePeriodSeconds"] >= settings.job_drain_s + 10
    (container,) = pod["containers"]
    assert container["ports"] == [
        {"name": "metrics", "containerPort": settings.worker_metrics_port, "protocol": "TCP"}
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    headless = only("Service", f"{WORKER}-pods")["spec"]
    assert headless["selector"].items() <= labels.items()
    assert headless["ports"][0]["port"] == settings.worker_metrics_port
    text = PROMETHEUS.read_text()
    assert f"{WORKER}-pods.citizen-verify.svc.cluster.local]" in text
    assert f"port: {settings.worker_metrics_port}" in text


def test_pods_run_locked_down() -> None:
    for workload, template in pod_specs():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, workload
        assert spec["securityContext"]["runAsUser"] != 0, workload
        assert spec["automountServiceAccountToken"] is False, workload
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, workload
            assert sc["allowPrivilegeEscalation"] is False, workload
            assert sc["capabilities"]["drop"] == ["ALL"], workload
            assert {"requests", "limits"} <= container["resources"].keys(), workload
    assert "USER 10001:10001" in (ROOT / "Dockerfile").read_text()


def test_scaling_objects() -> None:
    deployment = only("Deployment", API)
    hpa = only("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 30)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == 60
    assert deployment["spec"]["replicas"] == 3
    assert only("PodDisruptionBudget")["spec"]["minAvailable"] == 2
    keys = {
        c["topologyKey"]
        for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    }
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def _policy(name: str) -> Doc:
    policy = only("NetworkPolicy", name)
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    return policy


def _namespace_of(peer: Doc) -> str:
    name: str = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    return name


def _egress_ports(spec: Doc) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"]}


def test_network_policies_deny_by_default() -> None:
    deny = _policy("citizen-verify-default-deny")["spec"]
    assert deny["podSelector"] == {}
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny


def test_api_pods_take_the_api_from_the_ingress_and_ops_from_monitoring_only() -> None:
    spec = _policy("citizen-verify-api")["spec"]
    labels = only("Deployment", API)["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    container_ports = {p["name"] for p in api_container()["ports"]}
    allowed = {}
    for rule in spec["ingress"]:
        (peer,) = rule["from"]
        assert set(peer) == {"namespaceSelector"}, "a namespace, never everyone"
        for port in rule["ports"]:
            assert port["port"] in container_ports and port["protocol"] == "TCP"
            allowed[port["port"]] = _namespace_of(peer)
    assert allowed == {"http": "ingress-nginx", "ops": "monitoring"}
    assert _egress_ports(spec) == {(5432, "TCP"), (6379, "TCP"), (53, "UDP"), (53, "TCP")}
    dns = [r for r in spec["egress"] if any(p["port"] == 53 for p in r["ports"])]
    assert [_namespace_of(r["to"][0]) for r in dns] == ["kube-system"]


def test_jobs_reach_postgres_and_dns_only() -> None:
    spec = _policy("citizen-verify-jobs")["spec"]
    (selector,) = spec["podSelector"]["matchExpressions"]
    components = set(selector["values"])
    for workload, template in pod_specs():
        if workload not in (API, WORKER):
            assert template["metadata"]["labels"]["app.kubernetes.io/component"] in components
    assert "ingress" not in spec and spec["policyTypes"] == ["Ingress", "Egress"]
    assert _egress_ports(spec) == {(5432, "TCP"), (53, "UDP"), (53, "TCP")}


def test_job_workers_reach_postgres_redis_dns_and_take_only_monitoring() -> None:
    """Under the default deny, the workers need their own policy: the queue and the probing
    limit are in Redis; Prometheus scrapes their metrics port."""
    spec = _policy("citizen-verify-worker")["spec"]
    labels = only("Deployment", WORKER)["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    (container,) = only("Deployment", WORKER)["spec"]["template"]["spec"]["containers"]
    (rule,) = spec["ingress"]
    (peer,) = rule["from"]
    assert _namespace_of(peer) == "monitoring"
    assert [p["port"] for p in rule["ports"]] == [p["name"] for p in container["ports"]]
    assert _egress_ports(spec) == {(5432, "TCP"), (6379, "TCP"), (53, "UDP"), (53, "TCP")}


def test_kubernetes_validate_accepts_the_manifests() -> None:
    """Against the Kubernetes schemas, when kubernetes-validate (pip) is installed."""
    beside = Path(sys.executable).with_name("kubernetes-validate")
    validate = str(beside) if beside.exists() else shutil.which("kubernetes-validate")
    if validate is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    run = subprocess.run(
        [validate, "--strict", *map(str, manifest_files())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _is_secret_material(value: str) -> bool:
    """A credential in a URL, or base64 that decodes to 32+ bytes (an HMAC/cache key)."""
    if re.search(r"://[^/@\s]*:[^/@\s]+@", value) and PLACEHOLDER not in value:
        return True
    try:
        return len(base64.b64decode(value, validate=True)) >= 32
    except (binascii.Error, ValueError):
        return False


def test_no_real_secrets() -> None:
    secrets = docs_of_kind("Secret")
    assert [s["metadata"]["name"] for s in secrets] == [SECRET, ADMIN_SECRET]
    for path, docs in load_all().items():
        if any(d["kind"] == "Secret" for d in docs):
            assert path.name.endswith(".example.yaml"), f"{path.name}: a Secret outside an example"
    for secret in secrets:
        assert "data" not in secret, "placeholders go in stringData, readable"
        for key, value in secret["stringData"].items():
            assert PLACEHOLDER in value, f"{key} is not an obvious placeholder"
            assert not _is_secret_material(value), key
    env = {**dummy_env(), **secrets[0]["stringData"]}
    with pytest.raises(ValueError, match="VERIFY_HMAC_KEY"):
        Settings.from_env(env)  # applied by mistake, the service refuses to start
    for path in manifest_files():
        for word in re.findall(r"[^\s\"']+", path.read_text()):
            assert not _is_secret_material(word), f"{path.name}: {word[:12]}..."


# ------------------------------------------------------------ external tools


def test_kubectl_reads_the_same_documents() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    label = "citizen-verify.test/parsed"
    for path, docs in load_all().items():
        run = subprocess.run(
            [kubectl, "label", "--local", "-f", str(path), f"{label}=yes", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, f"{path.name}: {run.stderr}"
        decoder = json.JSONDecoder()
        out, pos = run.stdout, 0
        theirs: list[Doc] = []
        while out[pos:].strip():
            pos += len(out[pos:]) - len(out[pos:].lstrip())
            obj, pos = decoder.raw_decode(out, pos)
            theirs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
        for obj in theirs:
            del obj["metadata"]["labels"][label]
        assert theirs == docs, path.name


def test_kubeconform_accepts_the_manifests() -> None:
    kubeconform = shutil.which("kubeconform")
    if kubeconform is None:
        pytest.skip("kubeconform is not installed")
    run = subprocess.run(
        [kubeconform, "-strict", "-summary", *map(str, manifest_files())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
