"""Service manifests: load, validate and derive the wiring every tool shares.

`services/<name>/service.yaml` is the single source of truth for a service. Terraform
(`yamldecode`), the packager, the local runtime, the contract tests, CODEOWNERS and the
event catalog all read it through this module (Terraform re-derives the same names in
HCL; `tests/infra` checks that both agree).

    >>> from devtools.manifest import load_services
    >>> services = load_services()
    >>> [f.name for s in services for f in s.functions]

A bad manifest fails with the file and the field named:

    services/orders/service.yaml: functions.api.memory: 64 is less than the minimum of 128

Terraform's `yamldecode` reads YAML by 1.1 rules, PyYAML only partly: a plain `N` is the boolean
false to Terraform and the string "N" to PyYAML. The loader refuses such scalars where the two
(or a YAML 1.2 editor) would disagree, so every reader sees the same manifest:

    services/orders/service.yaml: resources.tables.events.range_key.type: N is read as the boolean
    false by Terraform's yamldecode (YAML 1.1); quote it: "N"
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO_ROOT / "services"
SCHEMA_PATH = Path(__file__).with_name("service.schema.json")

PROJECT = "eda"
DEFAULT_RUNTIME = "python3.12"
DEFAULT_ARCHITECTURE = "arm64"
DEFAULT_LOG_RETENTION_DAYS = 30
# SQS event source defaults (AWS defaults where AWS has one).
DEFAULT_BATCH_SIZE = 10
DEFAULT_MAX_RECEIVE_COUNT = 3
SQS_TRIGGERS = ("eventbridge", "sns", "s3")

# Who may call an HTTP route (functions.<fn>.trigger.routes: "METHOD /path" -> access). The region's
# user pool and JWT authorizer are infra/modules/region/cognito.tf + http_api.tf; shared/auth.py is
# the functions' side. Change them together (tests/infra and shared/tests check they agree).
ACCESS_LEVELS = ("public", "customer", "staff")
STAFF_GROUP = "staff"  # aws_cognito_user_group.staff
RESOURCE_SERVER = "eda"  # aws_cognito_resource_server.this.identifier
RESOURCE_SERVER_SCOPES = {"staff": "Operations: stock, prices and exchange rates."}  # its scope blocks
PLATFORM_SCOPES = tuple(f"{RESOURCE_SERVER}/{name}" for name in RESOURCE_SERVER_SCOPES)
PUBLIC_VERIFICATIONS = ("hmac-signature",)


class ManifestError(ValueError):
    """A manifest is invalid; the message names the file and the field."""


# --------------------------------------------------------------------------- YAML as Terraform reads it
# Terraform's yamldecode (zclconf/go-cty-yaml, a port of go-yaml v2) takes every one of these plain
# (unquoted, untagged) scalars for a boolean, as a value and as a mapping key (which then becomes the
# string "true" or "false"); mixed case such as `yEs` or `oN` stays a string. Measured with terraform
# 1.11.4 (`jsonencode(yamldecode(...))` in `terraform console`); tests/manifests re-measures it.
TERRAFORM_BOOLEANS: dict[str, bool] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False),
}
# The spellings every reader takes for a boolean: Terraform, PyYAML and YAML 1.2 (editors, via the
# schema on the first line). PyYAML reads y/Y/n/N as strings, YAML 1.2 reads yes/no/on/off as strings.
PORTABLE_BOOLEANS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})


@dataclass(frozen=True)
class PlainBoolean:
    """A plain scalar of a manifest that Terraform's yamldecode reads as a boolean."""

    path: tuple[Any, ...]  # keys and indexes into PyYAML's data
    field: str  # the same path as written, for messages: functions.api.environment.ON
    token: str
    is_key: bool

    @property
    def terraform_value(self) -> bool:
        return TERRAFORM_BOOLEANS[self.token]


class _ManifestYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also marks each plain scalar Terraform reads as a boolean."""

    def __init__(self, stream):
        super().__init__(stream)
        self.built: dict[yaml.Node, Any] = {}

    def compose_scalar_node(self, anchor):
        event = self.peek_event()
        node = super().compose_scalar_node(anchor)
        node.terraform_boolean = event.tag is None and event.style is None and event.value in TERRAFORM_BOOLEANS
        return node

    def construct_object(self, node, deep=False):
        data = super().construct_object(node, deep=deep)
        self.built[node] = data
        return data


def _plain_booleans(loader: _ManifestYamlLoader, node, path=(), shown=(), open_nodes=frozenset()):
    if isinstance(node, yaml.ScalarNode):
        if getattr(node, "terraform_boolean", False):
            yield PlainBoolean(path, ".".join(shown) or "(top level)", node.value, is_key=False)
        return
    if id(node) in open_nodes:  # an alias of an enclosing node: already being walked
        return
    open_nodes = open_nodes | {id(node)}
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _plain_booleans(loader, item, (*path, index), (*shown, str(index)), open_nodes)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.built.get(key_node)
            label = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
            at, at_shown = (*path, key), (*shown, label)
            if getattr(key_node, "terraform_boolean", False):
                yield PlainBoolean(at, ".".join(at_shown), key_node.value, is_key=True)
            yield from _plain_booleans(loader, value_node, at, at_shown, open_nodes)


def parse_yaml(text: str) -> tuple[Any, tuple[PlainBoolean, ...]]:
    """PyYAML's reading of a manifest (what the loader validates), and, in document order, every
    plain scalar that Terraform's yamldecode reads as a boolean. Raises yaml.YAMLError."""
    loader = _ManifestYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, ()
        data = loader.construct_document(node)
        return data, tuple(_plain_booleans(loader, node))
    finally:
        loader.dispose()


def _teach_safe_dump_terraform_booleans() -> None:
    """yaml.safe_dump quotes a string only when PyYAML itself would misread it, so it writes the string
    "N" plain, which Terraform reads as false. Tests copy and edit manifests with yaml.safe_dump:
    make the safe dumper quote y/Y/n/N too (the other YAML 1.1 booleans it already quotes)."""
    yaml.SafeDumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


_teach_safe_dump_terraform_booleans()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Ref:
    """A resource reference: `name` (own service) or `service:name`."""

    service: str
    name: str

    @classmethod
    def parse(cls, text: str, own_service: str) -> Ref:
        service, _, name = text.rpartition(":")
        return cls(service or own_service, name)

    def __str__(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True)
class RouteAccess:
    """One HTTP route and who may call it (a `routes` entry of an http trigger).

    customer: the JWT authorizer (the region's user pool) checks the token; the function takes
    the customer id from the token's `sub`. staff: the same authorizer, and the function checks the
    `staff` group (shared.auth.require_staff): API Gateway's JWT authorizer checks scopes, never
    groups. With `scopes`, the authorizer also requires one of them (a 403 before the function).
    public: no authorizer; `verified_by` says how the function authenticates its caller.
    """

    method: str
    path: str
    access: str
    scopes: tuple[str, ...] = ()
    verified_by: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def authorization_type(self) -> str:
        """The route's authorization_type on the HTTP API (aws_apigatewayv2_route.this/.public)."""
        return "NONE" if self.access == "public" else "JWT"

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{(\w+)\+?\}", self.path))

    @classmethod
    def parse(cls, key: str, value: Any) -> RouteAccess:
        method, path = key.split(" ", 1)
        spec = value if isinstance(value, dict) else {"access": value}
        return cls(method, path, spec["access"], tuple(spec.get("scopes", ())), spec.get("verified_by"))


@dataclass(frozen=True)
class Trigger:
    type: str
    raw: dict[str, Any]
    service: str

    # -- SQS-fed triggers (eventbridge, sns, s3): the function reads its own queue + DLQ
    @property
    def uses_queue(self) -> bool:
        return self.type in SQS_TRIGGERS

    @property
    def batch_size(self) -> int:
        default = 100 if self.type == "dynamodb_stream" else DEFAULT_BATCH_SIZE
        return int(self.raw.get("batch_size", default))

    @property
    def batching_window_seconds(self) -> int:
        return int(self.raw.get("batching_window_seconds", 0))

    @property
    def max_receive_count(self) -> int:
        return int(self.raw.get("max_receive_count", DEFAULT_MAX_RECEIVE_COUNT))

    @property
    def maximum_concurrency(self) -> int | None:
        return self.raw.get("maximum_concurrency")

    # -- http
    @property
    def routes(self) -> list[tuple[str, str]]:
        """(method, path) of every route, in manifest order."""
        return [(r.method, r.path) for r in self.route_access]

    @property
    def route_access(self) -> list[RouteAccess]:
        """Every route with who may call it, in manifest order."""
        return [RouteAccess.parse(key, value) for key, value in (self.raw.get("routes") or {}).items()]

    # -- eventbridge
    @property
    def events(self) -> list[tuple[str, str]]:
        """(source, detail-type) pairs this trigger consumes."""
        return [(e["source"], e["detail_type"]) for e in self.raw.get("events", [])]

    def event_patterns(self) -> list[dict[str, Any]]:
        """EventBridge rule patterns, one per source (a pattern is a cross product)."""
        by_source: dict[str, list[str]] = {}
        for source, detail_type in self.events:
            by_source.setdefault(source, []).append(detail_type)
        patterns = []
        for source, detail_types in sorted(by_source.items()):
            pattern: dict[str, Any] = {"source": [source], "detail-type": sorted(detail_types)}
            if self.raw.get("detail_filter"):
                pattern["detail"] = self.raw["detail_filter"]
            patterns.append(pattern)
        return patterns

    # -- sns / s3 / dynamodb_stream
    @property
    def topic(self) -> Ref | None:
        return Ref.parse(self.raw["topic"], self.service) if "topic" in self.raw else None

    @property
    def bucket(self) -> Ref | None:
        return Ref.parse(self.raw["bucket"], self.service) if "bucket" in self.raw else None

    @property
    def table(self) -> str | None:
        return self.raw.get("table")


@dataclass(frozen=True)
class Function:
    service: str
    name: str
    handler: str
    memory: int
    timeout: int
    runtime: str
    architecture: str
    trigger: Trigger
    reserved_concurrency: int | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    description: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    publishes: tuple[str, ...] = ()
    idempotency: bool = False
    access: dict[str, Any] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def queue_visibility_timeout(self) -> int:
        """AWS: at least 6x the function timeout plus the batching window."""
        return 6 * self.timeout + self.trigger.batching_window_seconds

    def refs(self, kind: str) -> dict[Ref, str]:
        """Access entries of one kind (tables, buckets, topics, secrets) -> level."""
        return {Ref.parse(k, self.service): v for k, v in self.access.get(kind, {}).items()}


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    owner: str
    path: Path
    functions: tuple[Function, ...]
    tables: dict[str, dict[str, Any]]
    buckets: dict[str, dict[str, Any]]
    topics: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]]
    contains_personal_data: bool = True

    @property
    def manifest_path(self) -> Path:
        return self.path / "service.yaml"

    @property
    def src_dir(self) -> Path:
        return self.path / "src"

    @property
    def requirements_file(self) -> Path:
        return self.path / "requirements.txt"

    @property
    def runtime(self) -> str:
        return self.functions[0].runtime

    @property
    def architecture(self) -> str:
        return self.functions[0].architecture

    @property
    def publishes(self) -> tuple[str, ...]:
        names: set[str] = set()
        for fn in self.functions:
            names.update(fn.publishes)
        return tuple(sorted(names))

    @property
    def consumes(self) -> tuple[tuple[str, str], ...]:
        pairs = {pair for fn in self.functions for pair in fn.trigger.events}
        return tuple(sorted(pairs))

    def function(self, name: str) -> Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise KeyError(f"{self.name} has no function {name!r}")


# --------------------------------------------------------------------------- loading


@cache
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _field_path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _best_error(errors):
    """The most specific error: deepest path, preferring a concrete keyword over if/then."""
    return max(errors, key=lambda e: (len(e.absolute_path), e.validator not in ("if", "allOf")))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _flat_errors(errors):
    for err in errors:
        yield err
        yield from _flat_errors(err.context or ())


def _accepts(data: Any, path: tuple[Any, ...], value: Any) -> bool:
    """Whether the schema takes `value` at `path` (errors elsewhere in `data` do not count)."""
    if not path:
        return not list(_validator().iter_errors(value))
    probe = copy.deepcopy(data)
    target = probe
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return not any(tuple(e.absolute_path) == path for e in _flat_errors(_validator().iter_errors(probe)))


def _boolean_problem(data: Any, plain: PlainBoolean, schema_errors: list) -> str | None:
    """Why a plain boolean-looking scalar is refused, or None when every reader agrees and the schema takes it."""
    token, tf = plain.token, json.dumps(plain.terraform_value)
    read = f"{token} is read as the boolean {tf} by Terraform's yamldecode (YAML 1.1)"
    if plain.is_key:
        return f'the key {read} and becomes "{tf}"; quote it: "{token}"'
    if token in PORTABLE_BOOLEANS:
        if not any(tuple(e.absolute_path) == plain.path for e in _flat_errors(schema_errors)):
            return None  # a boolean where the schema takes one (or free-form data): all readers agree
        return f'{token} is read as the boolean {tf} by Terraform\'s yamldecode and by PyYAML; quote it: "{token}"'
    takes_bool = _accepts(data, plain.path, plain.terraform_value)
    takes_string = _accepts(data, plain.path, token)
    if takes_bool and not takes_string:
        other = "PyYAML" if token in ("y", "Y", "n", "N") else "YAML 1.2 readers (editors)"
        return f'{read} but as the string "{token}" by {other}; write {tf}'
    either = f" (or write {tf} for the boolean)" if takes_bool else ""
    return f'{read}; quote it: "{token}"{either}'


_ACCESS_HELP = (
    "map each route to who may call it: customer, staff, {access: staff, scopes: [eda/staff]} or "
    "{access: public, verified_by: hmac-signature}"
)


def _undeclared_route_access(data: Any) -> str | None:
    """`field: why` for the first HTTP route whose access is not declared (the schema's oneOf message
    would not say so), or None."""
    functions = data.get("functions") if isinstance(data, dict) else None
    for fn_name, fn in (functions or {}).items() if isinstance(functions, dict) else ():
        trigger = fn.get("trigger") if isinstance(fn, dict) else None
        if not isinstance(trigger, dict) or trigger.get("type") != "http" or "routes" not in trigger:
            continue
        at = f"functions.{fn_name}.trigger.routes"
        routes = trigger["routes"]
        if isinstance(routes, list):
            listed = ", ".join(str(r) for r in routes[:2]) + (", ..." if len(routes) > 2 else "")
            return f"{at}: [{listed}] declares no access for its routes; {_ACCESS_HELP} (e.g. `POST /orders: customer`)"
        if not isinstance(routes, dict):
            continue
        for route, value in routes.items():
            access = value.get("access") if isinstance(value, dict) else value
            if access is None:
                return f"{at}.{route}: no access declared; {_ACCESS_HELP}"
            if value == "public":
                return (
                    f"{at}.{route}: a public route has no authorizer, so it must say how its function verifies the "
                    "caller: {access: public, verified_by: hmac-signature}"
                )
    return None


def parse_manifest(data: Any, path: Path, plain_booleans: tuple[PlainBoolean, ...] = ()) -> Service:
    """Validate one manifest's data against the JSON Schema and build the model.

    `plain_booleans` (from `parse_yaml`) are refused first where Terraform would read them differently
    from Python, or a string is wanted: the schema alone cannot see them (PyYAML reads `N` as "N")."""
    where = _relative(path)
    undeclared = _undeclared_route_access(data)
    if undeclared:
        raise ManifestError(f"{where}: {undeclared}")
    errors = list(_validator().iter_errors(data))
    for plain in plain_booleans:
        problem = _boolean_problem(data, plain, errors)
        if problem:
            raise ManifestError(f"{where}: {plain.field}: {problem}")
    if errors:
        err = _best_error(errors)
        raise ManifestError(f"{where}: {_field_path(err)}: {err.message}")

    folder = path.parent
    if data["name"] != folder.name:
        raise ManifestError(f"{where}: name: {data['name']!r} must equal its folder name {folder.name!r}")
    name = data["name"]
    res = data.get("resources", {})
    functions = []
    for fn_name, fn in sorted(data["functions"].items()):
        trigger = Trigger(fn["trigger"]["type"], fn["trigger"], name)
        functions.append(
            Function(
                service=name,
                name=fn_name,
                handler=fn["handler"],
                memory=fn["memory"],
                timeout=fn["timeout"],
                runtime=fn.get("runtime", data.get("runtime", DEFAULT_RUNTIME)),
                architecture=fn.get("architecture", data.get("architecture", DEFAULT_ARCHITECTURE)),
                trigger=trigger,
                reserved_concurrency=fn.get("reserved_concurrency"),
                log_retention_days=fn.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS),
                description=fn.get("description", ""),
                environment=dict(fn.get("environment", {})),
                publishes=tuple(fn.get("publishes", [])),
                idempotency=bool(fn.get("idempotency", False)),
                access=dict(fn.get("access", {})),
            )
        )
    service = Service(
        name=name,
        description=data["description"],
        owner=data["owner"],
        path=folder,
        functions=tuple(functions),
        tables=dict(res.get("tables", {})),
        buckets=dict(res.get("buckets", {})),
        topics=dict(res.get("topics", {})),
        secrets=dict(res.get("secrets", {})),
        contains_personal_data=bool(data.get("contains_personal_data", True)),
    )
    _check_service(service, where)
    return service


def load_manifest(path: Path | str) -> Service:
    path = Path(path)
    try:
        data, plain_booleans = parse_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ManifestError(f"{_relative(path)}: (yaml): {exc}") from exc
    return parse_manifest(data, path, plain_booleans)


def load_services(root: Path | str = SERVICES_DIR) -> list[Service]:
    """Every manifest under `root`, validated one by one and against each other."""
    root = Path(root)
    services = [load_manifest(p) for p in sorted(root.glob("*/service.yaml"))]
    check_cross_service(services)
    return services


# --------------------------------------------------------------------------- checks


def _check_service(svc: Service, where: str) -> None:
    for fn in svc.functions:
        at = f"{where}: functions.{fn.name}"
        if fn.runtime != svc.functions[0].runtime or fn.architecture != svc.functions[0].architecture:
            raise ManifestError(
                f"{at}: runtime/architecture: every function of a service shares one zip, "
                "so they must share runtime and architecture (split the service or align them)"
            )
        module_file = svc.src_dir / (fn.handler_module.replace(".", "/") + ".py")
        if not module_file.is_file():
            raise ManifestError(f"{at}.handler: {fn.handler!r}: no module {_relative(module_file)}")
        if not fn.handler.startswith(svc.name + "."):
            raise ManifestError(f"{at}.handler: {fn.handler!r} must live in the service package {svc.name!r}")
        trig = fn.trigger
        if trig.type == "dynamodb_stream":
            table = svc.tables.get(trig.table or "")
            if table is None:
                raise ManifestError(f"{at}.trigger.table: {trig.table!r} is not a table of this service")
            if "stream" not in table:
                raise ManifestError(f"{at}.trigger.table: table {trig.table!r} has no stream")
        if trig.uses_queue and trig.batch_size > 10 and trig.batching_window_seconds < 1:
            raise ManifestError(
                f"{at}.trigger.batch_size: {trig.batch_size} > 10 needs batching_window_seconds >= 1 (AWS rule)"
            )
        for kind, owned in (
            ("tables", svc.tables),
            ("buckets", svc.buckets),
            ("topics", svc.topics),
            ("secrets", svc.secrets),
        ):
            for ref in fn.refs(kind):
                if ref.service == svc.name and ref.name not in owned:
                    raise ManifestError(f"{at}.access.{kind}: {ref.name!r} is not declared in resources.{kind}")
        for kind in ("topic", "bucket"):
            ref = getattr(trig, kind)
            if ref is not None and ref.service == svc.name and ref.name not in getattr(svc, kind + "s"):
                raise ManifestError(f"{at}.trigger.{kind}: {ref.name!r} is not declared in resources.{kind}s")
        env_clash = set(fn.environment) & set(platform_environment_names(svc, fn))
        if env_clash:
            raise ManifestError(f"{at}.environment: {sorted(env_clash)} are set by the platform")


def check_cross_service(services: list[Service]) -> None:
    """References between services resolve; names are unique."""
    by_name = {s.name: s for s in services}
    producers: dict[str, str] = {}
    for svc in services:
        for event in svc.publishes:
            if event in producers and producers[event] != svc.name:
                raise ManifestError(
                    f"{_relative(svc.manifest_path)}: publishes: {event!r} is already published by "
                    f"{producers[event]!r}; an event has one producer"
                )
            producers[event] = svc.name
    routes: dict[tuple[str, str], str] = {}
    for svc in services:
        where = _relative(svc.manifest_path)
        for fn in svc.functions:
            at = f"{where}: functions.{fn.name}"
            for route in fn.trigger.routes:
                if route in routes:
                    raise ManifestError(f"{at}.trigger.routes: {' '.join(route)} is already served by {routes[route]}")
                routes[route] = fn.qualified_name
            refs = [("trigger.topic", fn.trigger.topic, "topics"), ("trigger.bucket", fn.trigger.bucket, "buckets")]
            for kind in ("tables", "buckets", "topics", "secrets"):
                refs += [(f"access.{kind}", ref, kind) for ref in fn.refs(kind)]
            for label, ref, kind in refs:
                if ref is None or ref.service == svc.name:
                    continue
                owner = by_name.get(ref.service)
                if owner is None or ref.name not in getattr(owner, kind):
                    raise ManifestError(f"{at}.{label}: {ref} does not exist (no such service or resource)")


# --------------------------------------------------------------------------- naming
# Terraform derives the same names in infra/modules/service/locals.tf; tests/infra
# checks they agree. Change both or neither.


def region_family(region: str) -> str:
    """Data-residency family of an AWS region: eu, us, apac, ..."""
    prefix = region.split("-", 1)[0]
    return {"eu": "eu", "us": "us", "ap": "apac", "ca": "ca", "sa": "sa", "me": "me", "af": "af"}.get(prefix, prefix)


def _dash(name: str) -> str:
    return name.replace("_", "-")


def env_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def function_name(env: str, fn: Function) -> str:
    return f"{env}-{_dash(fn.service)}-{_dash(fn.name)}"


def queue_name(env: str, fn: Function) -> str:
    return f"{function_name(env, fn)}"


def dlq_name(env: str, fn: Function) -> str:
    return f"{function_name(env, fn)}-dlq"


def table_name(env: str, service: str, table: str) -> str:
    return f"{env}-{_dash(service)}-{table}"


def bucket_name(env: str, region: str, service: str, bucket: str, account_id: str) -> str:
    return f"{PROJECT}-{env}-{_dash(service)}-{bucket}-{account_id}-{region}"


def topic_name(env: str, service: str, topic: str) -> str:
    return f"{env}-{_dash(service)}-{topic}"


def secret_name(env: str, service: str, secret: str) -> str:
    return f"{env}/{service}/{secret}"


def bus_name(env: str) -> str:
    return f"{PROJECT}-{env}"


def idempotency_table_name(env: str) -> str:
    return f"{env}-idempotency"


# Wiring names (infra/modules/service/{locals,triggers,iam}.tf, infra/modules/region/main.tf).


def rule_name(env: str, fn: Function, source: str) -> str:
    """EventBridge rule of an eventbridge trigger, one per (function, source): local.event_rules."""
    return f"{function_name(env, fn)}-{_dash(source)}"


def s3_rule_name(env: str, fn: Function) -> str:
    """Default-bus rule of an S3 trigger with `delivery: eventbridge`: aws_cloudwatch_event_rule.s3."""
    return f"{function_name(env, fn)}-s3"


# target_id of aws_cloudwatch_event_target.this and .s3 (a rule has one target: the queue).
RULE_TARGET_ID = "sqs"


def s3_notification_id(fn: Function) -> str:
    """Id of a queue entry in the bucket's notification: the manifest's function key (queue.key)."""
    return fn.name


def log_group_name(env: str, fn: Function) -> str:
    """The function's log group: aws_cloudwatch_log_group.function."""
    return f"/aws/lambda/{function_name(env, fn)}"


def role_name(env: str, fn: Function) -> str:
    """The function's execution role: aws_iam_role.function."""
    return function_name(env, fn)


def scheduler_role_name(env: str, fn: Function) -> str:
    """EventBridge Scheduler's role for a schedule function: aws_iam_role.scheduler."""
    return f"{function_name(env, fn)}-scheduler"


def schedule_name(env: str, fn: Function) -> str:
    """EventBridge Scheduler schedule (default group): aws_scheduler_schedule.this."""
    return function_name(env, fn)


def archive_name(env: str) -> str:
    """The bus archive: aws_cloudwatch_event_archive.this (region module)."""
    return f"{bus_name(env)}-archive"


def alarm_topic_name(env: str) -> str:
    """The region's alarm topic: aws_sns_topic.alarms (region module)."""
    return f"{PROJECT}-{env}-alarms"


def access_log_bucket_name(env: str, region: str, account_id: str) -> str:
    """The region's S3 access-log bucket: aws_s3_bucket.access_logs (region module)."""
    return f"{PROJECT}-{env}-access-logs-{account_id}-{region}"


# Identity and the HTTP API (infra/modules/region/cognito.tf, http_api.tf).
MOBILE_CLIENT = "mobile"  # aws_cognito_user_pool_client.mobile.name
OPERATIONS_CLIENT = "operations"  # aws_cognito_user_pool_client.operations.name


def user_pool_name(env: str) -> str:
    """The region's user pool: aws_cognito_user_pool.customers (local.user_pool_name)."""
    return f"{PROJECT}-{env}-customers"


def user_pool_domain(env: str, region: str, account_id: str) -> str:
    """Hosted UI domain prefix: aws_cognito_user_pool_domain.this (local.user_pool_domain)."""
    return f"{PROJECT}-{env}-{account_id}-{region}"


def http_api_name(env: str) -> str:
    """The region's HTTP API: aws_apigatewayv2_api.this."""
    return f"{PROJECT}-{env}-http"


def authorizer_name(env: str) -> str:
    """Its JWT authorizer: aws_apigatewayv2_authorizer.jwt."""
    return f"{user_pool_name(env)}-jwt"


def platform_environment_names(svc: Service, fn: Function) -> list[str]:
    """Names of the environment variables the platform sets for a function."""
    names = [
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "DEPLOY_ENV",
        "DATA_RESIDENCY",
        "EVENT_BUS_NAME",
    ]
    if fn.idempotency:
        names.append("IDEMPOTENCY_TABLE")
    names += [f"TABLE_{env_key(r.name)}" for r in fn.refs("tables")]
    if fn.trigger.type == "dynamodb_stream" and fn.trigger.table:
        names.append(f"TABLE_{env_key(fn.trigger.table)}")
    names += [f"BUCKET_{env_key(r.name)}" for r in fn.refs("buckets")]
    names += [f"TOPIC_{env_key(r.name)}_ARN" for r in fn.refs("topics")]
    names += [f"SECRET_{env_key(r.name)}_ARN" for r in fn.refs("secrets")]
    return sorted(set(names))


@dataclass(frozen=True)
class Deployment:
    """Where a function runs: environment, region, account; builds physical names."""

    env: str
    region: str
    account_id: str = "000000000000"

    @property
    def partition_arn(self) -> str:
        return "arn:aws"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def table(self, ref: Ref) -> str:
        return table_name(self.env, ref.service, ref.name)

    def bucket(self, ref: Ref) -> str:
        return bucket_name(self.env, self.region, ref.service, ref.name, self.account_id)

    def topic_arn(self, ref: Ref) -> str:
        return self.arn("sns", topic_name(self.env, ref.service, ref.name))

    def secret_name(self, ref: Ref) -> str:
        return secret_name(self.env, ref.service, ref.name)

    def function_environment(
        self, svc: Service, fn: Function, secret_arns: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The environment Terraform sets on the function (the local runtime sets the same)."""
        env = {
            "POWERTOOLS_SERVICE_NAME": svc.name,
            "POWERTOOLS_METRICS_NAMESPACE": PROJECT,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "DEPLOY_ENV": self.env,
            "DATA_RESIDENCY": region_family(self.region),
            "EVENT_BUS_NAME": bus_name(self.env),
        }
        if fn.idempotency:
            env["IDEMPOTENCY_TABLE"] = idempotency_table_name(self.env)
        tables = list(fn.refs("tables"))
        if fn.trigger.type == "dynamodb_stream" and fn.trigger.table:
            tables.append(Ref(svc.name, fn.trigger.table))
        for ref in tables:
            env[f"TABLE_{env_key(ref.name)}"] = self.table(ref)
        for ref in fn.refs("buckets"):
            env[f"BUCKET_{env_key(ref.name)}"] = self.bucket(ref)
        for ref in fn.refs("topics"):
            env[f"TOPIC_{env_key(ref.name)}_ARN"] = self.topic_arn(ref)
        for ref in fn.refs("secrets"):
            key = f"SECRET_{env_key(ref.name)}_ARN"
            env[key] = (secret_arns or {}).get(str(ref)) or self.arn(
                "secretsmanager", f"secret:{self.secret_name(ref)}"
            )
        env.update(fn.environment)
        return env
