"""A small evaluator of Terraform HCL (the subset infra/ uses), for offline checks.

Terraform cannot run here, so the infra tests evaluate the modules the way `terraform plan`
would for everything that is known at plan time: variables, locals, `for_each`/`count`,
module calls (with their own for_each), and attribute expressions. Values only AWS knows
(resource attributes, most data sources) evaluate to `Unknown("<reference>")`.

    >>> root = Module.load("infra/envs/dev/eu-west-1")
    >>> svc = root.child("service", "webhooks")
    >>> sorted(svc.instances("aws_lambda_function", "this"))
    ['receive', 'record_delivery']

Anything outside the supported subset raises `Unsupported`, so a test fails loudly
instead of silently deriving the wrong answer.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import hcl2
import yaml
from lark import Token, Tree

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_ACCOUNT_ID = "000000000000"  # the same as devtools.manifest.Deployment's default
FAKE_PARTITION = "aws"


class Unsupported(Exception):
    """The expression uses HCL this evaluator does not implement."""


class EvalError(Exception):
    """Terraform would report an error evaluating this expression (try() catches it)."""


@dataclass(frozen=True)
class Unknown:
    """A value known only after apply (a resource attribute)."""

    ref: str

    def __str__(self) -> str:
        return "${" + self.ref + "}"


def _is_unknown(v: Any) -> bool:
    if isinstance(v, Unknown):
        return True
    if isinstance(v, dict):
        return any(_is_unknown(x) for x in v.values())
    if isinstance(v, (list, tuple, frozenset)):
        return any(_is_unknown(x) for x in v)
    return False


# --------------------------------------------------------------------------- parsing


def _trees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _name(node: Tree) -> str:
    """identifier / keyword / string label -> text."""
    if node.data in ("identifier", "keyword"):
        return str(node.children[0])
    if node.data == "string":
        parts = _trees(node)
        return "".join(str(p.children[0]) for p in parts)
    if node.data == "literal_value":
        return str(node.children[0])
    raise Unsupported(f"label {node.data}")


@dataclass
class Body:
    attributes: dict[str, Tree] = field(default_factory=dict)
    blocks: list[tuple[str, list[str], Body]] = field(default_factory=list)

    def blocks_of(self, kind: str) -> list[tuple[list[str], Body]]:
        return [(labels, body) for k, labels, body in self.blocks if k == kind]

    def block(self, kind: str) -> Body:
        found = self.blocks_of(kind)
        if len(found) != 1:
            raise KeyError(f"expected one {kind} block, found {len(found)}")
        return found[0][1]


def _body(node: Tree) -> Body:
    out = Body()
    for child in _trees(node):
        if child.data == "attribute":
            name_node, expr = _trees(child)
            out.attributes[_name(name_node)] = expr
        elif child.data == "block":
            parts = _trees(child)
            kind, *labels, body = parts
            out.blocks.append((_name(kind), [_name(lbl) for lbl in labels], _body(body)))
    return out


def parse_file(path: Path) -> Body:
    path = Path(path).resolve()
    return _parse_cached(path, path.stat().st_mtime_ns)


@cache
def _parse_cached(path: Path, _mtime: int) -> Body:
    tree = hcl2.parses_to_tree(path.read_text())
    return _body(_trees(tree)[0])


# --------------------------------------------------------------------------- functions


def _tf_replace(s: str, old: str, new: str) -> str:
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        return re.sub(old[1:-1], re.sub(r"\$(\d+)", r"\\\1", new), s)
    return s.replace(old, new)


def _tf_title(s: str) -> str:
    return re.sub(r"(^|[^A-Za-z0-9'])([a-z])", lambda m: m.group(1) + m.group(2).upper(), s)


def _merge(*args: Any) -> dict:
    out: dict = {}
    for a in args:
        if a is None:
            continue
        if not isinstance(a, dict):
            raise EvalError(f"merge of non-map {a!r}")
        out.update(a)
    return out


def _coalesce(*args: Any) -> Any:
    for a in args:
        if a is not None and a != "":
            return a
    raise EvalError("coalesce: no non-null argument")


def _flatten(v: Any) -> list:
    out: list = []
    for x in v:
        if isinstance(x, list):
            out.extend(_flatten(x))
        else:
            out.append(x)
    return out


def _to_json(v: Any) -> Any:
    if isinstance(v, frozenset):
        return sorted(v)
    if isinstance(v, dict):
        return {k: _to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    return v


def _jsonencode(v: Any) -> Any:
    if _is_unknown(v):
        return Unknown(f"jsonencode({v!r})")
    return json.dumps(_to_json(v), separators=(",", ":"), sort_keys=True)


def _distinct(v: list) -> list:
    out: list = []
    for x in v:
        if x not in out:
            out.append(x)
    return out


def _keys(v: dict) -> list:
    return sorted(v)


def _values(v: dict) -> list:
    return [v[k] for k in sorted(v)]


def _lookup(m: dict, k: str, *default: Any) -> Any:
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise EvalError(f"lookup: no key {k!r}")


def _min(*a: Any) -> Any:
    return min(a)


def _max(*a: Any) -> Any:
    return max(a)


def _regex(pattern: str, s: str) -> Any:
    m = re.search(pattern, s)
    if m is None:
        raise EvalError(f"regex {pattern!r} does not match {s!r}")
    return m.group(0) if not m.groups() else list(m.groups())


PURE_FUNCTIONS = {
    "merge": _merge,
    "concat": lambda *a: [x for lst in a for x in lst],
    "contains": lambda coll, v: v in coll,
    "lookup": _lookup,
    "coalesce": _coalesce,
    "replace": _tf_replace,
    "upper": str.upper,
    "lower": str.lower,
    "title": _tf_title,
    "split": lambda sep, s: s.split(sep),
    "join": lambda sep, lst: sep.join(lst),
    "keys": _keys,
    "values": _values,
    "length": len,
    "flatten": _flatten,
    "distinct": _distinct,
    "toset": frozenset,
    "tolist": lambda v: sorted(v) if isinstance(v, frozenset) else list(v),
    "tomap": dict,
    "sort": sorted,
    "jsonencode": _jsonencode,
    "jsondecode": json.loads,
    "yamldecode": yaml.safe_load,
    "trimspace": str.strip,
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "strcontains": lambda s, p: p in s,
    "alltrue": all,
    "anytrue": any,
    "min": _min,
    "max": _max,
    "floor": lambda x: int(x // 1),
    "dirname": os.path.dirname,
    "basename": os.path.basename,
    "format": lambda f, *a: re.sub(r"%[sd]", "{}", f).format(*a),
    "regex": _regex,
    "substr": lambda s, off, n: s[off : (None if n < 0 else off + n)],
    "tostring": str,
}


def _file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise EvalError(f"file({path!r}): {exc}") from exc


def _fileset(base: str, pattern: str) -> frozenset:
    return frozenset(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, pattern)) if os.path.isfile(p))


# --------------------------------------------------------------------------- evaluation


def _unescape(text: str) -> str:
    return re.sub(r'\\(["\\nrt])', lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), text)


class Scope:
    """Names visible to an expression: a module plus for-expression/each bindings."""

    def __init__(self, module: Module, bindings: dict[str, Any] | None = None):
        self.module = module
        self.bindings = bindings or {}

    def bind(self, **names: Any) -> Scope:
        return Scope(self.module, {**self.bindings, **names})

    # -- expression tree -> value
    def eval(self, node: Tree) -> Any:
        kind = node.data
        method = getattr(self, "_e_" + kind, None)
        if method is None:
            raise Unsupported(f"HCL expression {kind!r} at line {getattr(node.meta, 'line', '?')}")
        return method(node)

    def _e_expr_term(self, node: Tree) -> Any:
        (inner,) = _trees(node)
        return self.eval(inner)

    def _e_int_lit(self, node: Tree) -> int:
        return int(str(node.children[0]))

    def _e_float_lit(self, node: Tree) -> float:
        return float(str(node.children[0]))

    def _e_literal_value(self, node: Tree) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _e_string(self, node: Tree) -> Any:
        pieces: list[Any] = []
        for part in _trees(node):
            (child,) = part.children
            if isinstance(child, Token):
                if child.type == "STRING_CHARS":
                    pieces.append(_unescape(str(child)))
                elif child.type == "ESCAPED_INTERPOLATION":
                    pieces.append(str(child)[1:])
                else:
                    raise Unsupported(f"string part {child.type}")
            elif child.data == "interpolation":
                pieces.append(self.eval(_trees(child)[0]))
            else:
                raise Unsupported(f"template directive {child.data}")
        if len(pieces) == 1 and not isinstance(pieces[0], str):
            return pieces[0] if isinstance(pieces[0], Unknown) else _template_str(pieces[0])
        if any(isinstance(p, Unknown) for p in pieces):
            return Unknown("".join(str(p) if isinstance(p, Unknown) else _template_str(p) for p in pieces))
        return "".join(_template_str(p) for p in pieces)

    def _e_tuple(self, node: Tree) -> list:
        return [self.eval(c) for c in _trees(node)]

    def _e_object(self, node: Tree) -> dict:
        out = {}
        for elem in _trees(node):
            key_node, value = _trees(elem)
            (key_expr,) = _trees(key_node)
            if key_expr.data == "keyword":
                key = _name(key_expr)
            else:
                inner = _trees(key_expr)
                if key_expr.data == "expr_term" and len(inner) == 1 and inner[0].data == "identifier":
                    key = _name(inner[0])
                else:
                    key = self.eval(key_expr)
            out[key] = self.eval(value)
        return out

    def _e_identifier(self, node: Tree) -> Any:
        name = _name(node)
        if name in self.bindings:
            return self.bindings[name]
        return Namespace(self, name)

    def _e_get_attr_expr_term(self, node: Tree) -> Any:
        base, attr = _trees(node)
        return _get(self.eval(base), _name(_trees(attr)[0]))

    def _e_index_expr_term(self, node: Tree) -> Any:
        base, index = _trees(node)
        if index.data == "short_index":
            key: Any = int(str(index.children[-1]))
        else:
            key = self.eval(_trees(index)[0])
        return _get(self.eval(base), key, index=True)

    def _e_full_splat_expr_term(self, node: Tree) -> Any:
        base, splat = _trees(node)
        value = self.eval(base)
        items = value if isinstance(value, list) else ([] if value is None else [value])
        out = []
        for element in items:
            item = element
            for op in _trees(splat):
                item = _get(item, _name(_trees(op)[0]) if op.data == "get_attr" else self.eval(_trees(op)[0]))
            out.append(item)
        return out

    _e_attr_splat_expr_term = _e_full_splat_expr_term

    def _e_conditional(self, node: Tree) -> Any:
        cond, yes, no = _trees(node)
        c = self.eval(cond)
        if isinstance(c, Unknown):
            return Unknown(f"conditional({c.ref})")
        if not isinstance(c, bool):
            raise EvalError(f"condition is not a bool: {c!r}")
        return self.eval(yes if c else no)

    def _e_unary_op(self, node: Tree) -> Any:
        op = str(node.children[0])
        value = self.eval(_trees(node)[0])
        if isinstance(value, Unknown):
            return value
        return (not value) if op == "!" else -value

    def _e_binary_op(self, node: Tree) -> Any:
        left, term = _trees(node)
        op_node, right = _trees(term)
        op = str(op_node.children[0])
        a, b = self.eval(left), self.eval(right)
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            return Unknown(f"({a} {op} {b})")
        if op in ("&&", "||"):
            # Terraform evaluates both operands; both must be bools.
            if not isinstance(a, bool) or not isinstance(b, bool):
                raise EvalError(f"{op} needs bools: {a!r}, {b!r}")
            return (a and b) if op == "&&" else (a or b)
        ops = {
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            ">": lambda: a > b,
            "<=": lambda: a <= b,
            ">=": lambda: a >= b,
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: a / b,
            "%": lambda: a % b,
        }
        try:
            return ops[op]()
        except TypeError as exc:
            raise EvalError(f"{a!r} {op} {b!r}: {exc}") from exc

    def _e_function_call(self, node: Tree) -> Any:
        parts = _trees(node)
        name = _name(parts[0])
        arg_nodes = _trees(parts[1]) if len(parts) > 1 else []
        expand = len(parts) > 1 and any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in parts[1].children)
        if name == "try":
            for arg in arg_nodes:
                try:
                    return self.eval(arg)
                except (EvalError, KeyError, IndexError, TypeError, AttributeError):
                    continue
            raise EvalError("try: every argument failed")
        if name == "can":
            try:
                self.eval(arg_nodes[0])
                return True
            except (EvalError, KeyError, IndexError, TypeError, AttributeError):
                return False
        args = [self.eval(a) for a in arg_nodes]
        if expand:
            args = args[:-1] + list(args[-1])
        if name == "file":
            return _file(self.module.reroute(args[0]))
        if name == "fileexists":
            return Path(self.module.reroute(args[0])).is_file()
        if name == "fileset":
            return _fileset(self.module.reroute(args[0]), args[1])
        if name not in PURE_FUNCTIONS:
            raise Unsupported(f"function {name}()")
        if any(_is_unknown(a) for a in args) and name not in ("merge", "concat", "jsonencode", "length", "keys"):
            return Unknown(f"{name}(...)")
        try:
            return PURE_FUNCTIONS[name](*args)
        except (TypeError, ValueError, AttributeError) as exc:
            raise EvalError(f"{name}{tuple(args)!r}: {exc}") from exc

    def _for(self, node: Tree) -> tuple[list[tuple[Scope, Any]], Tree]:
        intro = next(c for c in _trees(node) if c.data == "for_intro")
        names = [_name(c) for c in _trees(intro) if c.data == "identifier"]
        coll = self.eval(_trees(intro)[-1])
        if isinstance(coll, Unknown):
            raise Unsupported(f"for over an unknown collection {coll.ref}")
        if isinstance(coll, dict):
            pairs = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, frozenset):
            pairs = [(v, v) for v in sorted(coll)]
        else:
            pairs = list(enumerate(coll))
        cond = next((c for c in _trees(node) if c.data == "for_cond"), None)
        scopes = []
        for k, v in pairs:
            scope = self.bind(**({names[0]: k, names[1]: v} if len(names) == 2 else {names[0]: v}))
            if cond is not None:
                ok = scope.eval(_trees(cond)[0])
                if isinstance(ok, Unknown):
                    raise Unsupported(f"for condition is unknown: {ok.ref}")
                if not ok:
                    continue
            scopes.append((scope, (k, v)))
        return scopes, intro

    def _e_for_tuple_expr(self, node: Tree) -> list:
        scopes, _intro = self._for(node)
        (value,) = [c for c in _trees(node) if c.data not in ("for_intro", "for_cond")]
        return [s.eval(value) for s, _ in scopes]

    def _e_for_object_expr(self, node: Tree) -> dict:
        scopes, _intro = self._for(node)
        key_node, value_node = [c for c in _trees(node) if c.data not in ("for_intro", "for_cond")]
        grouping = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
        out: dict = {}
        for s, _ in scopes:
            key = s.eval(key_node)
            value = s.eval(value_node)
            if grouping:
                out.setdefault(key, []).append(value)
            elif key in out:
                raise EvalError(f"duplicate key {key!r} in a for expression")
            else:
                out[key] = value
        return out


def _template_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    raise EvalError(f"cannot interpolate {v!r}")


def _get(value: Any, key: Any, index: bool = False) -> Any:
    return _resolve(_get_raw(_resolve(value), key, index))


def _get_raw(value: Any, key: Any, index: bool) -> Any:
    if isinstance(value, Namespace):
        return value.get(key)
    if isinstance(value, Unknown):
        return Unknown(f"{value.ref}[{json.dumps(key)}]" if index else f"{value.ref}.{key}")
    if isinstance(value, dict):
        if key not in value:
            raise EvalError(f"no attribute or key {key!r}")
        return value[key]
    if isinstance(value, list):
        if not isinstance(key, int) or not 0 <= key < len(value):
            raise EvalError(f"index {key!r} out of range")
        return value[key]
    raise EvalError(f"cannot get {key!r} from {value!r}")


class Namespace:
    """var.x, local.x, each.key, path.module, module.m.out, data.t.n.attr, resource refs."""

    def __init__(self, scope: Scope, *path: Any):
        self.scope = scope
        self.path = path

    def get(self, key: Any) -> Any:
        path = (*self.path, key)
        module = self.scope.module
        head = path[0]
        if head == "var":
            return module.var(key)
        if head == "local":
            return module.local(key)
        if head == "path":
            return {"module": str(module.dir), "root": str(module.root_dir), "cwd": str(module.root_dir)}[key]
        if head == "each":
            raise EvalError("each.* outside for_each")
        if head == "module":
            if len(path) == 2:
                return module.child_outputs(key)
            raise Unsupported(str(path))
        if head == "data":
            if len(path) < 4:
                return Namespace(self.scope, *path)
            known = {
                ("aws_caller_identity", "account_id"): FAKE_ACCOUNT_ID,
                ("aws_partition", "partition"): FAKE_PARTITION,
            }
            if (path[1], path[3]) in known:
                return known[(path[1], path[3])]
            return Unknown(".".join(map(str, path)))
        # A resource reference: type.name[key].attr -> unknown after apply.
        if len(path) == 2:
            return Unknown(f"{path[0]}.{path[1]}")
        raise Unsupported(str(path))


# --------------------------------------------------------------------------- modules


class Module:
    """One module directory evaluated with given input variables."""

    def __init__(self, directory: Path, inputs: dict[str, Any], root_dir: Path, overrides: dict | None = None):
        self.dir = directory.resolve()
        self.root_dir = root_dir.resolve()
        self.inputs = inputs
        self.overrides = overrides or {}
        self._locals: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self._children: dict[tuple[str, Any], Module] = {}

    @classmethod
    def load(cls, root: Path | str, tfvars: dict[str, Any] | None = None, **overrides: Any) -> Module:
        """A root module with terraform.tfvars (or `tfvars`) as inputs.

        `overrides` replace file paths seen by child modules: {"services_dir": Path} reroutes the
        services folder (to evaluate a mutated manifest copy)."""
        root = Path(root)
        if tfvars is None:
            tfvars_file = root / "terraform.tfvars"
            body = parse_file(tfvars_file) if tfvars_file.exists() else Body()
            tfvars = {k: Scope(cls(root, {}, root)).eval(v) for k, v in body.attributes.items()}
        return cls(root, tfvars, root, overrides)

    @cached_property
    def files(self) -> dict[str, Body]:
        return {p.name: parse_file(p) for p in sorted(self.dir.glob("*.tf"))}

    def _blocks(self, kind: str) -> list[tuple[list[str], Body]]:
        return [b for body in self.files.values() for b in body.blocks_of(kind)]

    @cached_property
    def variables(self) -> dict[str, Body]:
        return {labels[0]: body for labels, body in self._blocks("variable")}

    @cached_property
    def local_exprs(self) -> dict[str, Tree]:
        out: dict[str, Tree] = {}
        for _, body in self._blocks("locals"):
            out.update(body.attributes)
        return out

    @cached_property
    def resources(self) -> dict[tuple[str, str], Body]:
        return {(labels[0], labels[1]): body for labels, body in self._blocks("resource")}

    @cached_property
    def module_calls(self) -> dict[str, Body]:
        return {labels[0]: body for labels, body in self._blocks("module")}

    @cached_property
    def outputs(self) -> dict[str, Body]:
        return {labels[0]: body for labels, body in self._blocks("output")}

    @property
    def scope(self) -> Scope:
        return Scope(self)

    # -- values
    def var(self, name: str) -> Any:
        if name not in self.variables:
            raise EvalError(f"{self.dir}: undeclared variable {name!r}")
        if name in self.inputs:
            value = self.inputs[name]
        elif "default" in self.variables[name].attributes:
            value = Scope(self).eval(self.variables[name].attributes["default"])
        else:
            raise EvalError(f"{self.dir}: variable {name!r} is required")
        return self._apply_type(self.variables[name], value)

    def _apply_type(self, var_body: Body, value: Any) -> Any:
        type_expr = var_body.attributes.get("type")
        if type_expr is None or value is None:
            return value
        return TypeConverter(self).convert(type_expr, value)

    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        if name in self._evaluating:
            raise Unsupported(f"cycle through local.{name}")
        self._evaluating.add(name)
        try:
            value = self.scope.eval(self.local_exprs[name])
        finally:
            self._evaluating.discard(name)
        self._locals[name] = value
        return value

    def validation_errors(self) -> list[str]:
        """error_message of every variable validation whose condition is false."""
        errors = []
        for name, body in self.variables.items():
            for _, validation in body.blocks_of("validation"):
                ok = self.scope.eval(validation.attributes["condition"])
                if ok is False:
                    errors.append(f"var.{name}: {self.scope.eval(validation.attributes['error_message'])}")
        return errors

    # -- for_each / count
    def _each(self, body: Body) -> dict[Any, Scope]:
        if "for_each" in body.attributes:
            coll = self.scope.eval(body.attributes["for_each"])
            if _is_unknown(coll):
                raise EvalError(f"for_each is unknown at plan time: {coll}")
            if isinstance(coll, frozenset):
                coll = {v: v for v in coll}
            if not isinstance(coll, dict):
                raise EvalError(f"for_each needs a map or set, got {coll!r}")
            return {k: self.scope.bind(each=_Each(k, v)) for k, v in sorted(coll.items())}
        if "count" in body.attributes:
            n = self.scope.eval(body.attributes["count"])
            return {i: self.scope.bind(count={"index": i}) for i in range(n)}
        return {None: self.scope}

    def instances(self, rtype: str, name: str) -> dict[Any, Scope]:
        """Resource instance key -> scope to evaluate its attributes in."""
        return self._each(self.resources[(rtype, name)])

    def attr(self, rtype: str, name: str, key: Any, *path: str) -> Any:
        """An attribute of one instance: path = nested block names then the attribute name."""
        scope = self.instances(rtype, name)[key]
        body = self.resources[(rtype, name)]
        for block in path[:-1]:
            body = body.block(block)
        return scope.eval(body.attributes[path[-1]])

    # -- child modules
    def module_instances(self, call: str) -> list[Any]:
        return list(self._each(self.module_calls[call]))

    def child(self, call: str, key: Any = None) -> Module:
        if (call, key) not in self._children:
            body = self.module_calls[call]
            scope = self._each(body)[key]
            source = scope.eval(body.attributes["source"])
            inputs = {}
            for arg, expr in body.attributes.items():
                if arg in ("source", "for_each", "count", "depends_on", "providers", "version"):
                    continue
                value = scope.eval(expr)
                inputs[arg] = value
            self._children[(call, key)] = Module(self.dir / source, inputs, self.root_dir, self.overrides)
        return self._children[(call, key)]

    def reroute(self, path: str) -> str:
        """Map a path under the repository's services/ to overrides["services_dir"] (a mutated copy)."""
        services_dir = self.overrides.get("services_dir")
        if services_dir is None:
            return path
        real = os.path.normpath(REPO_ROOT / "services")
        norm = os.path.normpath(os.path.abspath(path))
        if norm == real or norm.startswith(real + os.sep):
            return str(Path(services_dir) / os.path.relpath(norm, real))
        return path

    def child_outputs(self, call: str) -> Any:
        keys = self.module_instances(call)
        if keys == [None]:
            return self._outputs_of(self.child(call))
        if all(isinstance(k, int) for k in keys):
            return [self._outputs_of(self.child(call, k)) for k in keys]
        return {k: self._outputs_of(self.child(call, k)) for k in keys}

    @staticmethod
    def _outputs_of(module: Module) -> dict:
        return {name: _LazyOutput(module, name) for name in module.outputs}


class _LazyOutput(dict):
    """Placeholder replaced on access; outputs are evaluated only when read."""

    def __init__(self, module: Module, name: str):
        super().__init__()
        self.module, self.name = module, name


def _resolve(v: Any) -> Any:
    if isinstance(v, _LazyOutput):
        return v.module.scope.eval(v.module.outputs[v.name].attributes["value"])
    return v


class _Each(dict):
    def __init__(self, key: Any, value: Any):
        super().__init__(key=key, value=value)


class TypeConverter:
    """Applies a variable's type constraint: optional() defaults and strict object attributes."""

    def __init__(self, module: Module):
        self.module = module

    def convert(self, type_expr: Tree, value: Any) -> Any:
        value = _resolve(value)
        if isinstance(value, dict):
            value = {k: _resolve(v) for k, v in value.items()}
        node = type_expr
        while node.data == "expr_term" and len(_trees(node)) == 1:
            node = _trees(node)[0]
        if node.data == "identifier":  # string, number, bool, any
            return value
        if node.data != "function_call":
            raise Unsupported(f"type expression {node.data}")
        name = _name(_trees(node)[0])
        args = _trees(_trees(node)[1]) if len(_trees(node)) > 1 else []
        if value is None or isinstance(value, Unknown):
            return value
        if name in ("list", "set", "tuple"):
            return [self.convert(args[0], v) for v in value]
        if name == "map":
            return {k: self.convert(args[0], v) for k, v in value.items()}
        if name == "object":
            obj = args[0]
            while obj.data == "expr_term":
                obj = _trees(obj)[0]
            attrs = _trees(obj)
            spec = {}
            for elem in attrs:
                key_node, attr_type = _trees(elem)
                spec[_name(_trees(_trees(key_node)[0])[0])] = attr_type
            extra = set(value) - set(spec)
            if extra:
                raise EvalError(f"unexpected attributes {sorted(extra)}")
            out = {}
            for attr, attr_type in spec.items():
                out[attr] = self._attr(attr_type, value, attr)
            return out
        raise Unsupported(f"type {name}()")

    def _attr(self, attr_type: Tree, value: dict, attr: str) -> Any:
        node = attr_type
        while node.data == "expr_term" and len(_trees(node)) == 1:
            node = _trees(node)[0]
        if node.data == "function_call" and _name(_trees(node)[0]) == "optional":
            args = _trees(_trees(node)[1])
            if value.get(attr) is None:
                default = self.module.scope.eval(args[1]) if len(args) > 1 else None
                return None if default is None else self.convert(args[0], default)
            return self.convert(args[0], value[attr])
        if attr not in value:
            raise EvalError(f"attribute {attr!r} is required")
        return self.convert(attr_type, value[attr])
