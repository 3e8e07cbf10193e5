"""Import-time helpers: work a module body would do at a cold start, done on first use instead.

    from shared.lazy import aws_client, deferred, dynamodb_table

    s3 = aws_client("s3")                              # created by the first s3.put_object(...)
    table = dynamodb_table(os.environ["TABLE_ORDERS"])  # named now, created on first use
    settings = deferred(load_settings)                  # any object: built on first attribute access

Importing `shared` installs an import hook (`install()`) for two things Powertools does at import:

- Packages whose `__init__` only re-exports names of their submodules are imported without running
  it: a name is imported, from the submodule that defines it, the first time it is asked for
  (PEP 562). Powertools' `event_handler` (importing `event_handler.api_gateway` for the HTTP API
  resolver otherwise imports every resolver: AppSync, Bedrock agents, VPC Lattice... and asyncio),
  `utilities.data_classes` (every event class of every AWS service, for the SQS record) and
  `utilities.batch`. A package whose `__init__` does anything else is imported as usual.
- `utilities.batch.types` spells two type aliases with the parser's pydantic models (SQS, DynamoDB,
  Kinesis and Kafka records: ~0.4x `import boto3`) when pydantic is already imported
  (`has_pydantic = "pydantic" in sys.modules`), and with strings otherwise. It is run as if pydantic
  were not imported: alone (its package is lazy, it imports only `sys` and `typing`), under the
  import lock, so no other thread can import pydantic meanwhile.

The hook imports nothing itself and changes nothing already imported, so `shared` must come first:
a service package whose modules import Powertools themselves imports `shared` in its `__init__`
(Lambda imports it before the handler module). tests/packaging checks what each handler's cold
start imports.
"""

from __future__ import annotations

import _imp
import importlib
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

LAZY_PACKAGES = frozenset(
    {
        "aws_lambda_powertools.event_handler",
        "aws_lambda_powertools.utilities.batch",
        "aws_lambda_powertools.utilities.data_classes",
    }
)
WITHOUT_PYDANTIC = frozenset({"aws_lambda_powertools.utilities.batch.types"})


def _exports(package: str, source: str) -> dict[str, tuple[str, str]] | None:
    """name -> (module, name in it) for each name an `__init__` imports; None if it does anything else."""
    import ast  # only when a lazy package is first imported

    exports: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # the docstring
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if not isinstance(node, ast.ImportFrom) or any(alias.name == "*" for alias in node.names):
            return None
        base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        for alias in node.names:
            exports[alias.asname or alias.name] = (base, alias.name)
    return exports


class _LazyPackageLoader:  # an importlib Loader (importlib.abc costs an import of importlib.resources)
    """Creates the package module with its `__path__` (submodules import normally) and, instead of
    running its `__init__`, a module `__getattr__` that imports each re-exported name on first use."""

    def __init__(self, exports: dict[str, tuple[str, str]]) -> None:
        self.exports = exports

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        name, exports, lock = module.__name__, self.exports, threading.RLock()

        def __getattr__(attr: str) -> Any:  # PEP 562
            if attr not in exports:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")
            source_module, source_name = exports[attr]
            with lock:
                if source_module == name:  # `from . import x`: a submodule
                    value = importlib.import_module(f"{name}.{source_name}")
                else:  # as `from .x import y` reads it: an attribute of .x, else its submodule
                    target = importlib.import_module(source_module)
                    try:
                        value = getattr(target, source_name)
                    except AttributeError:
                        value = importlib.import_module(f"{source_module}.{source_name}")
                setattr(module, attr, value)
            return value

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]
        module.__all__ = list(exports)  # type: ignore[attr-defined]
        module.__lazy_package__ = True  # type: ignore[attr-defined]


class _WithoutPydanticLoader:
    """Runs a module's own code while `pydantic` is not in sys.modules (see the module doc)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        package = sys.modules.get(module.__name__.rpartition(".")[0])
        if not getattr(package, "__lazy_package__", False):
            self.loader.exec_module(module)  # its package's __init__ runs too: nothing to gain
            return
        _imp.acquire_lock()
        try:
            hidden = sys.modules.pop("pydantic", None)
            try:
                self.loader.exec_module(module)
            finally:
                if hidden is not None:
                    sys.modules["pydantic"] = hidden
        finally:
            _imp.release_lock()


class _Finder:  # an importlib MetaPathFinder
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in LAZY_PACKAGES and fullname not in WITHOUT_PYDANTIC:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        if fullname in WITHOUT_PYDANTIC:
            spec.loader = _WithoutPydanticLoader(spec.loader)
            return spec
        get_source = getattr(spec.loader, "get_source", None)
        try:
            exports = _exports(fullname, get_source(fullname) or "") if get_source else None
        except (ImportError, OSError, SyntaxError):
            exports = None
        if exports is not None and spec.submodule_search_locations is not None:
            spec.loader = _LazyPackageLoader(exports)
        return spec


_FINDER = _Finder()


def install() -> None:
    """Put the hook first on sys.meta_path (once). Packages imported before are left as they are."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def aws_client(service: str) -> Any:
    """`boto3.client(service)`, boto3 imported and the client created on first use."""

    def create() -> Any:
        import boto3

        return boto3.client(service)

    return deferred(create)


def dynamodb_table(name: str) -> Any:
    """`boto3.resource("dynamodb").Table(name)`, boto3 imported and the resource created on first use."""

    def create() -> Any:
        import boto3

        return boto3.resource("dynamodb").Table(name)

    return deferred(create)


class deferred(Generic[T]):  # lower case: it reads as a call, like functools.partial
    """A stand-in that builds the object on first attribute access (once, thread-safe).

    For module-level clients and tables: the module body stays free of work (no client is created
    at import), and tests can still replace the attribute (`monkeypatch.setattr(module, "s3", fake)`).
    """

    # Slots, no __dict__: `vars(proxy)` and `proxy.__dict__` are the object's (monkeypatch reads them).
    __slots__ = ("_factory", "_lock", "_value")

    def __init__(self, factory: Callable[[], T]) -> None:
        object.__setattr__(self, "_factory", factory)
        object.__setattr__(self, "_value", None)
        object.__setattr__(self, "_lock", threading.Lock())

    def resolve(self) -> T:
        """The object, built now if it was not yet."""
        value = object.__getattribute__(self, "_value")
        if value is None:
            with object.__getattribute__(self, "_lock"):
                value = object.__getattribute__(self, "_value")
                if value is None:
                    value = object.__getattribute__(self, "_factory")()
                    object.__setattr__(self, "_value", value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.resolve(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.resolve(), name)

    def __repr__(self) -> str:
        value = object.__getattribute__(self, "_value")
        return f"deferred({value!r})" if value is not None else "deferred(<not built yet>)"
