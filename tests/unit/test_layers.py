"""The import rule (STYLE.md): every import points down the layers, and packages form no circle.

Layers, lowest first: ``verify.domain`` < ``verify.service`` (with ``verify.errors``)
< the infrastructure packages, which do not import each other: ``cache``,
``verify.adapters``, ``verify.settings``, ``verify.metrics``/``verify.logs``
(observability) < ``verify.http`` < the composition root and entry points
(``verify.bootstrap``, ``verify.server``, ``verify.cli``, ``verify.devservers``).
Besides the order, some layers must not touch some drivers or packages at all.
Every ``import`` statement counts, also those inside functions and under
``TYPE_CHECKING`` (a circle hidden there is still a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("verify", "cache")

# (group, layer): a module may import its own group and any group of a lower layer
GROUPS: tuple[tuple[str, str, int], ...] = (
    # module prefix, group, layer
    ("verify.domain", "domain", 0),
    ("verify.native", "native", 0),  # chooses the domain's build; imports nothing of ours
    ("verify.service", "service", 1),
    ("verify.errors", "service", 1),
    ("cache", "cache", 2),
    ("verify.adapters", "adapters", 2),
    ("verify.settings", "settings", 2),
    ("verify.metrics", "observability", 2),
    ("verify.logs", "observability", 2),
    ("verify.http", "http", 3),
    ("verify.bootstrap", "root", 4),
    ("verify.server", "root", 4),
    ("verify.cli", "root", 4),
    ("verify.devservers", "root", 4),
    ("verify.__main__", "root", 4),
    ("verify", "root", 4),  # the package's own __init__
)

# third-party (and our) imports a group must never make, whatever the layers say
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": ("aiohttp", "asyncpg", "redis", "prometheus_client", "orjson", "time"),
    "service": ("aiohttp", "asyncpg", "redis", "prometheus_client"),
    "http": ("asyncpg", "redis", "verify.adapters", "cache"),
    "cache": ("asyncpg", "aiohttp", "verify.service", "verify.adapters", "verify.http"),
}


def group_of(module: str) -> tuple[str, int] | None:
    for prefix, group, layer in GROUPS:
        if module == prefix or module.startswith(prefix + "."):
            return group, layer
    return None


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _is_ours(module: str) -> bool:
    """A module (file or package) of this checkout."""
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module named by an import in ``path`` (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = [f"{base}.{a.name}" for a in node.names if _is_ours(f"{base}.{a.name}")]
            # `from cache import keyspace` names the module cache.keyspace
            yield from ((m, node.lineno) for m in submodules or [base])


def violations() -> list[str]:
    found: list[str] = []
    for module, path in modules():
        own = group_of(module)
        assert own is not None, f"{module} is in no layer: add it to GROUPS"
        group, layer = own
        for target, line in imports(module, path):
            where = f"{path.relative_to(ROOT)}:{line}"
            for banned in FORBIDDEN.get(group, ()):
                if target == banned or target.startswith(banned + "."):
                    found.append(f"{where}: {group} imports {target}")
            other = group_of(target) if target.split(".")[0] in PACKAGES else None
            if other is None or other[0] == group:
                continue
            if other[1] >= layer:
                found.append(f"{where}: {group} (layer {layer}) imports {target} "
                             f"({other[0]}, layer {other[1]})")  # fmt: skip
    return sorted(set(found))


def package_graph() -> dict[str, set[str]]:
    """Group -> groups it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        own = group_of(module)
        assert own is not None
        for target, _ in imports(module, path):
            other = group_of(target) if target.split(".")[0] in PACKAGES else None
            if other is not None and other[0] != own[0]:
                graph.setdefault(own[0], set()).add(other[0])
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if state.get(nxt) is None and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None and (found := visit(start, [start])):
            return found
    return None


def test_every_import_points_down() -> None:
    assert violations() == []


def test_no_circle_between_packages() -> None:
    assert cycle(package_graph()) is None


def test_cache_uses_nothing_of_verify_but_the_domain() -> None:
    for module, path in modules():
        if group_of(module) == ("cache", 2):
            outside = [t for t, _ in imports(module, path) if t.startswith("verify.")]
            assert all(t.startswith("verify.domain") for t in outside), (module, outside)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}}, None),
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
    ],
)
def test_the_circle_finder_finds_circles(
    graph: dict[str, set[str]], expected: list[str] | None
) -> None:
    assert cycle(graph) == expected


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "verify" / "service" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from verify.http.appkeys import SETTINGS\nimport asyncpg\n")
    found = list(imports("verify.service.bad", bad))
    assert ("verify.http.appkeys", 1) in found and ("asyncpg", 2) in found
    assert group_of("verify.http.appkeys") == ("http", 3)
    assert group_of("verify.service.bad") == ("service", 1)
