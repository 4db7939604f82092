"""The shape of the code, checked: what plugins and docs may import, and what authkit may not.

- The built-in strategies, the examples and every Python block in README.md and docs/
  import authkit only through its public modules: `authkit`, `authkit.plugin`,
  `authkit.testing`, `authkit.fastapi` (and never this repository's own `app` or
  `config`).
- FastAPI is optional: importing authkit never imports it.
- No module under authkit/ imports the repository's application (`app`, `config`).
- The modules under authkit/ import each other without a cycle.
- Test modules take helpers from tests/support, never from a conftest, and define none of
  them again.
- authkit, the built-in strategies and the service (app.py, config/) use Starlette's public
  API only: no `starlette._x` module, no name with a leading underscore from Starlette, and
  none of the private pieces that copies of Starlette's internals need.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"
# Vendored verbatim from the shared contract: its own copies stay as they are.
VENDORED = TESTS / "contract" / "reference"
PUBLIC = {"authkit", "authkit.plugin", "authkit.testing", "authkit.fastapi"}
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _documented_code() -> Iterator[tuple[str, str]]:
    for path in sorted([*ROOT.glob("docs/examples/**/*.py"), *ROOT.glob("strategies/*.py")]):
        yield str(path.relative_to(ROOT)), path.read_text("utf-8")
    for path in [ROOT / "README.md", *sorted(ROOT.glob("docs/**/*.md"))]:
        for number, block in enumerate(_PYTHON_BLOCK.findall(path.read_text("utf-8")), 1):
            yield f"{path.relative_to(ROOT)} (python block {number})", block


def test_examples_and_docs_import_only_public_modules() -> None:
    offending = []
    sources = list(_documented_code())
    assert len(sources) > 20  # the examples and the docs were found
    for where, code in sources:
        for line, module in _imported(ast.parse(code)):
            top = module.split(".")[0]
            if (top == "authkit" and module not in PUBLIC) or top in {"app", "config"}:
                offending.append(f"{where}:{line}: {module}")
    assert offending == [], "import these through authkit, authkit.plugin or authkit.testing"


def test_importing_authkit_never_imports_fastapi() -> None:
    # FastAPI is an optional integration (authkit.fastapi); authkit runs on Starlette alone.
    code = (
        "import sys, authkit, authkit.plugin, authkit.asgi; "
        "assert 'fastapi' not in sys.modules, 'fastapi was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    dependencies = re.search(
        r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M
    )
    assert dependencies is not None and "fastapi" not in dependencies.group(1)


def _authkit_modules() -> dict[str, ast.Module]:
    modules = {}
    for path in sorted((ROOT / "authkit").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = ast.parse(path.read_text("utf-8"))
    return modules


def test_the_toolkit_never_imports_the_application() -> None:
    offending = [
        f"{name}:{line}: {module}"
        for name, tree in _authkit_modules().items()
        for line, module in _imported(tree)
        if module.split(".")[0] in {"app", "config", "strategies"}
    ]
    assert offending == []


def _module_level_imports(tree: ast.Module, known: set[str]) -> set[str]:
    """The authkit modules a module imports when it is imported (not under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        for _, module in _imported(node) if isinstance(node, ast.Import | ast.ImportFrom) else ():
            if module in known:
                found.add(module)
            if isinstance(node, ast.ImportFrom):
                found.update(
                    f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known
                )
    return found


def test_authkit_modules_import_each_other_without_a_cycle() -> None:
    modules = _authkit_modules()
    graph = {
        name: _module_level_imports(tree, set(modules)) - {name} for name, tree in modules.items()
    }
    # `authkit` itself re-exports the public API: everything reaches it by being imported
    # as a package's parent, which is no cycle; only explicit imports count.
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(
                    [*path[path.index(target) :], target] if target in path else [name, target]
                )
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("folder", ["authkit", "strategies"])
def test_every_package_is_in_the_wheel(folder: str) -> None:
    listed = re.search(r"packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S)
    assert listed is not None
    packages = set(re.findall(r'"([\w.]+)"', listed.group(1)))
    base = ROOT / folder
    found = {
        ".".join(("authkit", *p.parent.relative_to(ROOT / "authkit").parts))
        if folder == "authkit"
        else ".".join(("authkit", "strategies", *p.parent.relative_to(base).parts))
        for p in base.rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    assert found <= packages


def test_the_authkit_script_names_a_function() -> None:
    # `authkit.cli:main` once named the module authkit.cli.main: every installed `authkit`
    # command then died with "'module' object is not callable".
    import importlib

    found = re.search(r'^authkit = "([\w.]+):(\w+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found is not None
    target = getattr(importlib.import_module(found[1]), found[2])
    assert callable(target) and not isinstance(target, type(importlib))


# ---------------------------------------------------------------- the tests' own shape


def _test_sources() -> Iterator[tuple[str, ast.Module]]:
    """Every Python file under tests/ (conftests, helpers and tests), vendored code aside."""
    for path in sorted(TESTS.rglob("*.py")):
        if VENDORED in path.parents:
            continue
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text("utf-8"), str(path))


def test_no_test_module_imports_from_a_conftest() -> None:
    """conftest files hold fixtures; helpers come from tests/support (`from support.x import`),
    which resolves the same from every folder, also one run alone."""
    found = []
    for name, tree in _test_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m == "conftest" or m.endswith(".conftest") for m in modules):
                found.append(f"{name}:{node.lineno}")
    assert found == [], f"import from a conftest (use tests/support): {found}"


def _support_names() -> set[str]:
    """The functions and classes tests/support defines, and the names it exports."""
    names: set[str] = set()
    for path in SUPPORT.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names.update(ast.literal_eval(node.value))
    return {n for n in names if not n.startswith("_")}


def test_the_scan_finds_the_support_helpers() -> None:
    # Were the scan to find nothing, the check below would pass without checking anything.
    copied_before = {"b64url", "b64url_decode", "bearer", "make_jwt", "Clock", "make_settings"}
    launched_before = {"AppProcess", "Launcher", "clean_environ", "wait_until", "with_database"}
    assert copied_before | launched_before <= _support_names()


def test_no_test_module_defines_a_support_helper_again() -> None:
    """One b64url, one bearer, one Clock, one settings builder ...: a test module that needs
    one imports it from tests/support instead of writing its own."""
    helpers = _support_names()
    found = []
    for name, tree in _test_sources():
        if name.startswith("tests/support/"):
            continue
        for node in ast.walk(tree):
            defines = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if defines and node.name in helpers:
                found.append(f"{name}:{node.lineno} {node.name}")
    assert found == [], f"defined again (import it from tests/support): {found}"


# Private pieces of Starlette that a copy of its internals reaches for: ExceptionMiddleware's
# handler tables, the scope key its route wrappers read them from, and the router's path
# helper from `starlette._utils`.
_STARLETTE_PRIVATE = {"_exception_handlers", "_status_handlers", "get_route_path"}
_STARLETTE_PRIVATE_KEY = "starlette.exception_handlers"


def _service_sources() -> list[Path]:
    return sorted(
        [
            *ROOT.glob("authkit/**/*.py"),
            *ROOT.glob("strategies/**/*.py"),
            ROOT / "app.py",
            *ROOT.glob("config/**/*.py"),
        ]
    )


def private_starlette_uses(code: str) -> list[tuple[int, str]]:
    """Where `code` reaches into Starlette's private API: (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "starlette" and any(p.startswith("_") for p in parts):
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "starlette":
                continue
            if any(p.startswith("_") for p in parts):
                found.append((node.lineno, f"from {node.module} import ..."))
            for alias in node.names:
                if alias.name.startswith("_") or alias.name in _STARLETTE_PRIVATE:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in _STARLETTE_PRIVATE:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in _STARLETTE_PRIVATE:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Constant) and node.value == _STARLETTE_PRIVATE_KEY:
            found.append((node.lineno, repr(_STARLETTE_PRIVATE_KEY)))
    return found


def test_only_starlettes_public_api_is_used() -> None:
    sources = _service_sources()
    assert ROOT / "authkit" / "application.py" in sources and ROOT / "app.py" in sources
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in sources
        for line, what in private_starlette_uses(path.read_text("utf-8"))
    ]
    assert offending == [], "use Starlette's public API (issue #15 item 6)"


# The layers a copy of Starlette's internals would subclass to replace (authkit once had
# AuthkitStarlette, IndexedRouter and LeanExceptionMiddleware): use them as they come.
_STARLETTE_LAYERS = {"Starlette", "Router", "ExceptionMiddleware", "ServerErrorMiddleware"}


def test_starlettes_application_router_and_error_layers_are_not_subclassed() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{node.lineno}: class {node.name}"
        for path in _service_sources()
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.ClassDef)
        and any(
            (base.id if isinstance(base, ast.Name) else getattr(base, "attr", None))
            in _STARLETTE_LAYERS
            for base in node.bases
        )
    ]
    assert offending == []


@pytest.mark.parametrize(
    "code",
    [
        "import starlette._utils",
        "from starlette._utils import get_route_path",
        "from starlette._exception_handler import wrap_app_handling_exceptions",
        "from starlette.middleware import _MiddlewareFactory",
        "from starlette import routing\nrouting.get_route_path({})",
        "lean._exception_handlers = middleware._exception_handlers",
        "handlers = layer._status_handlers",
        "scope['starlette.exception_handlers'] = ({}, {})",
    ],
)
def test_the_public_api_check_sees_each_kind_of_private_use(code: str) -> None:
    assert private_starlette_uses(code) != []


def test_the_public_api_check_lets_public_starlette_through() -> None:
    code = (
        "from starlette.applications import Starlette\n"
        "from starlette.routing import Route\n"
        "import starlette.middleware.exceptions\n"
        "app = Starlette(routes=[Route('/', lambda r: None)], exception_handlers={})\n"
        "app.router.redirect_slashes = True\n"
    )
    assert private_starlette_uses(code) == []
