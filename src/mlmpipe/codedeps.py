"""Library code a workflow rule depends on: the import closure of the library function its
script calls, computed statically from the source (``ast``; nothing is imported).

A rule lists ``code=codedeps.code_files("mlmpipe.steps.models:fit_step")`` among its inputs, so editing
any module in that closure makes the rule's jobs outdated (Snakemake compares the mtime and, when
recorded, the checksum of every input file) and editing any other module does not.

The closure follows *names*, not just modules. A request is a module with the names of it that
are used (or the whole module, or no names when the module is only loaded):

* a requested name bound at module level (function, class, assignment) is expanded: the names its
  whole definition references (a class with its methods) are used too, recursively in the module;
  so are the names import-time code runs (calls and their arguments, decorators, base classes);
* an import whose bound name is used requests the imported name from its module (``from m import
  f`` -> ``m`` with ``f``; ``from pkg import sub`` for a submodule, ``import m``, ``from m import
  *`` -> the whole module); an import inside an expanded function is used; any other top-level
  import only loads its module (requests no names): its import-time code runs;
* importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``: each package on the way is
  loaded.

A module is in the result when names of it are used, or when it is only loaded but its
import-time code may act beyond defining its own names (``_effective``: a bare expression, an
item/attribute assignment, a call of package code, a class with a metaclass). A
loaded module that only defines names cannot change what the target computes: to reach any of its
code, code on the target's path must name it, which makes it used. This relies on objects flowing
only from code that names their class (the package has no pickling and no name-string dispatch)
and misses only an import-time effect through a non-package call (``old = np.seterr(...)``).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["code_files", "import_closure", "script_targets"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

#: a request for a whole module (as opposed to a set of its names)
Names = frozenset[str] | None


@dataclass(frozen=True)
class _Edge:
    """One binding an import statement creates: ``bound`` in the importing module gives access
    to ``attr`` of ``module`` (``attr`` None: the whole module; ``direct``: ``bound`` is that
    module object, so ``bound.x`` uses only ``x`` of it)."""

    bound: str
    module: str
    attr: str | None
    direct: bool = False


@dataclass(frozen=True)
class _Refs:
    """What a definition references: every name, its import statements, the names used other
    than as ``name.attribute`` (bare) and the attributes taken of each name."""

    names: frozenset[str]
    imports: tuple[ast.Import | ast.ImportFrom, ...]
    bare: frozenset[str]
    attrs: dict[str, frozenset[str]]


def code_files(*targets: str) -> list[str]:
    """Sorted absolute paths of the ``mlmpipe`` source files the targets depend on.

    A target is ``"package.module:name"`` (a function or class, and the module's import-time
    code) or ``"package.module"`` (the whole module); the result is the union of their
    :func:`import_closure` in the imported ``mlmpipe`` package.
    """
    root = Path(str(resources.files("mlmpipe")))
    return sorted({f for t in targets for f in import_closure(t, root)})


@cache
def import_closure(target: str, package_dir: Path) -> tuple[str, ...]:
    """Sorted absolute paths of the ``.py`` files of the package at ``package_dir`` (its name is
    the directory's name) whose code runs for ``target`` (``"module:name"`` or ``"module"``)."""
    pkg = _package(Path(package_dir).resolve())
    module, _, name = target.partition(":")
    if pkg.path(module) is None:
        raise ValueError(f"codedeps: no module {module!r} under {pkg.root}")
    if name and name not in pkg.info(module).bound:
        raise ValueError(f"codedeps: {module} defines or imports no {name!r}")
    requested: dict[str, Names] = {}
    work: list[tuple[str, Names]] = [(module, frozenset({name}) if name else None)]
    while work:
        mod, names = work.pop()
        if pkg.path(mod) is None:
            continue
        if mod in requested:
            old = requested[mod]
            if old is None or (names is not None and names <= old):
                continue
            names = None if names is None else old | names
        requested[mod] = names
        work.extend((p, frozenset()) for p in _parents(mod))
        work.extend(pkg.uses(mod, names))
    runs = [m for m, names in requested.items() if names != frozenset() or pkg.info(m).effective]
    return tuple(sorted(str(pkg.path(m)) for m in runs))


def script_targets(script: str | Path, package_dir: Path | None = None) -> list[str]:
    """The targets a workflow script (``.py``) or notebook (``.ipynb``, its code cells) imports
    from the package: ``"module:name"`` for ``from module import name``, ``"module.name"`` when
    ``name`` is a submodule, ``"module"`` for ``import module``; sorted."""
    pkg = _package(Path(package_dir or str(resources.files("mlmpipe"))).resolve())
    path = Path(script)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        lines = (line for c in code for line in c.splitlines())
        text = "\n".join(x for x in lines if not x.lstrip().startswith(("%", "!")))  # magics
    out: set[str] = set()
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and pkg.path(node.module or ""):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if pkg.path(sub) else f"{node.module}:{a.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if pkg.path(a.name))
    return sorted(out)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, into_functions: bool) -> Iterator[ast.AST]:
    """``ast.walk`` without ``if TYPE_CHECKING:`` bodies and, unless ``into_functions``, without
    function bodies (decorators, defaults and annotations are evaluated at definition time)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        skip_body = _is_type_checking(node) or (not into_functions and isinstance(node, _FUNCS))
        for field, value in ast.iter_fields(node):
            if skip_body and field == "body":
                continue
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append(value)


@cache
def _refs(node: ast.AST) -> _Refs:
    """What a definition references anywhere in it (see :class:`_Refs`)."""
    nodes = list(_walk(node, True))
    bases: set[int] = set()
    attrs: dict[str, set[str]] = {}
    for n in nodes:
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            bases.add(id(n.value))
            attrs.setdefault(n.value.id, set()).add(n.attr)
    names = [n for n in nodes if isinstance(n, ast.Name)]
    return _Refs(
        frozenset(n.id for n in names),
        tuple(n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))),
        frozenset(n.id for n in names if id(n) not in bases),
        {k: frozenset(v) for k, v in attrs.items()},
    )


@dataclass(frozen=True)
class _ModuleInfo:
    """What one module binds at top level and what its import-time code references."""

    defs: dict[str, list[ast.AST]]  # module-level functions, classes, assignments by name
    top_edges: list[_Edge]  # imports that run at import time
    import_time_names: frozenset[str]  # names import-time code calls or derives from
    bound: frozenset[str]  # every module-level name (defs, imports, assignments)
    effective: bool  # import-time code may act beyond binding its own names


class _Package:
    """Source files of one package tree and the import edges of its modules."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name
        self._info: dict[str, _ModuleInfo] = {}
        self._paths: dict[str, Path | None] = {}

    def path(self, module: str) -> Path | None:
        if module not in self._paths:
            self._paths[module] = self._find(module)
        return self._paths[module]

    def _find(self, module: str) -> Path | None:
        parts = module.split(".")
        if parts[0] != self.name:
            return None
        base = self.root.parent.joinpath(*parts)
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def edges(self, module: str, node: ast.Import | ast.ImportFrom) -> list[_Edge]:
        """The package-internal bindings one import statement of ``module`` creates."""
        if isinstance(node, ast.Import):
            return [
                _Edge(
                    a.asname or a.name.split(".")[0],
                    a.name,
                    None,
                    bool(a.asname) or "." not in a.name,
                )
                for a in node.names
                if a.name.split(".")[0] == self.name
            ]
        if node.level:
            here = module if self.path(module).name == "__init__.py" else module.rpartition(".")[0]
            parts = here.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        if source.split(".")[0] != self.name:
            return []
        out = []
        for a in node.names:
            sub = f"{source}.{a.name}"
            if a.name == "*":
                out.append(_Edge("*", source, None))
            elif self.path(sub) is not None:
                out.append(_Edge(a.asname or a.name, sub, None, True))
            else:
                out.append(_Edge(a.asname or a.name, source, a.name))
        return out

    def info(self, module: str) -> _ModuleInfo:
        if module not in self._info:
            self._info[module] = _module_info(self, module)
        return self._info[module]

    def uses(self, module: str, names: Names) -> list[tuple[str, Names]]:
        """The requests ``module`` makes when ``names`` of it (None: all of it) are used."""
        info = self.info(module)
        if names == frozenset() and not info.effective:
            # only loaded, and its import-time code only defines names: what those definitions
            # reference (base classes, defaults) cannot reach the target; the modules it loads
            # are loaded in turn (one of them may act at import time)
            return [(e.module, frozenset()) for e in info.top_edges]
        tree = _parse(self.path(module))
        if names is None:
            expand = [tree]
            referenced = None
        else:
            referenced = set(info.import_time_names | names)
            pending, expand, done = list(referenced), [], set()
            while pending:
                name = pending.pop()
                if name in done or name not in info.defs:
                    continue
                done.add(name)
                for node in info.defs[name]:
                    expand.append(node)
                    new = _refs(node).names
                    pending.extend(new - referenced)
                    referenced |= new
        refs = [_refs(node) for node in expand]
        bare = set(info.import_time_names).union(*(r.bare for r in refs))
        attrs: dict[str, set[str]] = {}
        for r in refs:
            for name, a in r.attrs.items():
                attrs.setdefault(name, set()).update(a)

        def request(e: _Edge) -> tuple[str, Names]:
            if e.attr is not None:
                return e.module, frozenset({e.attr})
            if e.direct and e.bound not in bare:  # only module.attribute uses
                return e.module, frozenset(attrs.get(e.bound, ()))
            return e.module, None

        out = [
            request(e)
            if referenced is None or e.bound in referenced or e.bound == "*"
            else (e.module, frozenset())
            for e in info.top_edges
        ]
        out += [request(e) for r in refs for n in r.imports for e in self.edges(module, n)]
        # a name of a package that is its submodule (``pkg.sub`` after ``import pkg``)
        out += [(f"{module}.{n}", None) for n in names or () if self.path(f"{module}.{n}")]
        return out


@cache
def _package(root: Path) -> _Package:
    return _Package(root)


def _module_info(pkg: _Package, module: str) -> _ModuleInfo:
    tree = _parse(pkg.path(module))
    edges: list[_Edge] = []
    names: set[str] = set()  # what import-time code runs: calls, decorators, base classes
    for node in _walk(tree, False):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            edges.extend(pkg.edges(module, node))
        elif isinstance(node, _DEFS):
            heads = [*node.decorator_list]
            if isinstance(node, ast.ClassDef):
                heads += [*node.bases, *(k.value for k in node.keywords)]
            names.update(n.id for h in heads for n in ast.walk(h) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Call):
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    defs: dict[str, list[ast.AST]] = {}  # module-level functions, classes and assignments
    bound = {e.bound for e in edges}
    for node in tree.body:
        for stmt in _top_statements(node):
            if isinstance(stmt, _DEFS):
                defs.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for n in (n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                    defs.setdefault(n.id, []).append(stmt)
    bound |= set(defs)
    return _ModuleInfo(
        defs, edges, frozenset(names), frozenset(bound), _effective(tree, edges, defs)
    )


def _effective(tree: ast.Module, edges: list[_Edge], defs: dict[str, list[ast.AST]]) -> bool:
    """Whether a module's import-time code may change state outside its own namespace: a bare
    expression statement, an assignment to an attribute or item, a call of package code (an
    imported name or its own function), or a class derived from an imported class (which may
    register subclasses). A module without any of these only defines names."""
    package = {e.bound for e in edges} | {n for n, d in defs.items() if isinstance(d[0], _DEFS)}
    for node in _walk(tree, False):
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            return True
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            if not all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in targets):
                return True
        if isinstance(node, ast.Call) and _root(node.func) in package:
            return True
        if isinstance(node, ast.ClassDef) and node.keywords:
            return True
    return False


def _root(node: ast.AST) -> str | None:
    """The name an expression like ``a.b(c)[d].e`` starts from."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _top_statements(node: ast.stmt) -> Iterator[ast.stmt]:
    """A module-level statement and the statements nested in its if/try/with/for blocks (not in
    ``if TYPE_CHECKING:``, functions or classes): the definitions that bind module names."""
    yield node
    if isinstance(node, _DEFS):
        return
    for field in ("body", "orelse", "finalbody", "handlers"):
        if field == "body" and _is_type_checking(node):
            continue
        for child in getattr(node, field, []):
            if isinstance(child, ast.ExceptHandler):
                for stmt in child.body:
                    yield from _top_statements(stmt)
            elif isinstance(child, ast.stmt):
                yield from _top_statements(child)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
