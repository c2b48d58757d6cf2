"""The error-code catalogue (docs/errors.md), read from the source with `ast` alone.

`python -m simpul.kit.errorcodes > docs/errors.md` (`make docs`) writes it;
tests/test_error_codes.py fails when the page is stale or a code is missing from it.

Nothing is imported from the application: every `.py` file under `src/simpul` is parsed,
and a problem is found wherever one is built with a literal code —

* `SimpulError(code, detail, status=…)` and `Decision(False, reason, status, detail)`, the
  two roots;
* every class derived from a root (`InvalidInput` 422, `NotFound` 404, `Conflict` 409,
  `FaceError`, …) and every function that returns or raises one built from its own
  parameters (`deny(reason, status, detail)`, `_refuse`, `_bad`, `_unauthorised`,
  `problem`, …): these *builders* are discovered, not listed, and a call to one is followed
  to its root, so its status is the literal written at the call, else the builder's
  default;
* codes taken from tables: `reason, detail = _STATE_REASONS[state]`, or
  `status, code, detail = HTTP_PROBLEMS.get(…)`, give one problem per row of the table;
* the NIK checks: a refusal that passes on the first error of `parse_nik` (its `code`
  attribute) stands for every error code `parse_nik` can give, with its message.

A detail is shown as written: an f-string keeps its `{…}` placeholders (filled in where a
builder's parameter is a literal at the call), and a detail computed elsewhere is left out.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]  # src/simpul
VARIES = "varies"
TOP_LEVEL = "(top level)"
# The roots: every problem is one of these in the end. Their parameters, positionally; a
# parameter's role says what it becomes (the code, the HTTP status, the detail).
ROOTS: dict[str, tuple[tuple[str, ...], dict[str, int | str], dict[str, str]]] = {
    "SimpulError": (
        ("code", "detail", "status", "title"),
        {"status": 400},
        {"code": "code", "detail": "detail", "status": "status"},
    ),
    "Decision": (
        ("allowed", "reason", "status", "detail"),
        {"status": 200, "detail": ""},
        {"reason": "code", "detail": "detail", "status": "status", "allowed": "allowed"},
    ),
}
# The NIK checks whose first error a service raises as it is (`InvalidInput(e.code, …)`).
NIK_MODULE, NIK_FUNCTION, NIK_MESSAGES = "simpul.registry.identifiers", "parse_nik", "MESSAGES"
_MAX_DEPTH = 8
_MAX_VARIANTS = 256


# ------------------------------------------------------------------ what is found


@dataclass(frozen=True, order=True)
class Site:
    """One place a problem with a literal code is built."""

    code: str
    module: str
    line: int
    status: int | None  # None: not a literal
    detail: str | None  # None: computed elsewhere


@dataclass(frozen=True)
class Entry:
    """One code as one package raises it."""

    package: str
    code: str
    statuses: tuple[str, ...]
    details: tuple[str, ...]
    modules: tuple[str, ...]


# ------------------------------------------------------------------ the source


@dataclass
class Module:
    name: str
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local → (module, name)
    modules: dict[str, str] = field(default_factory=dict)  # local alias → module

    @classmethod
    def parse(cls, name: str, text: str) -> Module:
        mod = cls(name, ast.parse(text))
        for stmt in mod.tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target: ast.expr | None = stmt.targets[0]
                value: ast.expr | None = stmt.value
            elif isinstance(stmt, ast.AnnAssign):
                target, value = stmt.target, stmt.value
            else:
                target = value = None
            if isinstance(target, ast.Name) and value is not None:
                mod.constants[target.id] = value
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    local = alias.asname or alias.name
                    mod.imports[local] = (node.module, alias.name)
                    mod.modules[local] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    mod.modules[alias.asname or alias.name] = alias.name
        return mod


@dataclass(frozen=True)
class Scope:
    """Where an expression is read: its module and what its names are bound to."""

    module: Module
    env: Mapping[str, Val]
    fill: bool = False  # a builder's parameters: a literal argument fills its placeholder


Val = tuple[ast.expr, Scope]


@dataclass(frozen=True)
class Builder:
    """A callable that builds a problem: a root, or a class or function that calls one."""

    module: str
    name: str
    params: tuple[str, ...]
    defaults: Mapping[str, ast.expr]
    roles: Mapping[str, str]  # parameter → code / detail / status / allowed
    root: str | None = None
    inner: tuple[tuple[ast.Call, str | None], ...] = ()  # (call, enclosing class)


def _root(name: str, module: Module) -> Builder:
    params, defaults, roles = ROOTS[name]
    return Builder(module.name, name, params,
                   {k: ast.Constant(v) for k, v in defaults.items()}, roles, root=name)  # fmt: skip


def _parameters(
    fn: ast.FunctionDef | ast.AsyncFunctionDef,
) -> tuple[list[str], dict[str, ast.expr]]:
    args = fn.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    defaults = dict(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if d is not None:
            defaults[a.arg] = d
    names = positional + [a.arg for a in args.kwonlyargs]
    if names and names[0] in {"self", "cls"}:
        names = names[1:]
    return names, defaults


def _is_super_init(call: ast.Call) -> bool:
    f = call.func
    return (
        isinstance(f, ast.Attribute)
        and f.attr == "__init__"
        and isinstance(f.value, ast.Call)
        and isinstance(f.value.func, ast.Name)
        and f.value.func.id == "super"
    )


def _passthrough(expr: ast.expr, params: set[str]) -> str | None:
    """The parameter an argument forwards: `p`, `f(p)` (a masking), `p.format(…)`."""
    if isinstance(expr, ast.Name) and expr.id in params:
        return expr.id
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords:
        return _passthrough(expr.args[0], params)
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "format"
    ):
        return _passthrough(expr.func.value, params)
    return None


class Source:
    """Every module of a package tree and the problem builders found in it."""

    def __init__(self, root: Path = SOURCE) -> None:
        self.root = root
        self.modules: dict[str, Module] = {}
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            name = ".".join(parts)
            self.modules[name] = Module.parse(name, path.read_text(encoding="utf-8"))
        self.builders: dict[tuple[str, str], Builder] = {}
        self._groups: dict[int, dict[frozenset[str], list[dict[str, Val]]]] = {}
        self._made: dict[int, list[ast.Call]] = {}
        self._discover()

    # -------------------------------------------------------------- builders

    def _discover(self) -> None:
        while True:
            before = len(self.builders)
            for mod in self.modules.values():
                for node in mod.tree.body:
                    if isinstance(node, ast.ClassDef):
                        self._class(mod, node)
                    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        self._function(mod, node)
            if len(self.builders) == before:
                return

    def _class(self, mod: Module, node: ast.ClassDef) -> None:
        if (mod.name, node.name) in self.builders:
            return
        bases = [b for b in node.bases if isinstance(b, ast.Name | ast.Attribute)]
        parents = [p for p in (self._resolve(b, mod, None) for b in bases) if p is not None]
        if not parents:
            if node.name in ROOTS:
                self.builders[(mod.name, node.name)] = _root(node.name, mod)
            return
        init = next(
            (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
        )
        if init is None:  # e.g. FaceError(InvalidInput): the parent's signature and defaults
            self.builders[(mod.name, node.name)] = parents[0]
            return
        calls = [c for c in ast.walk(init) if isinstance(c, ast.Call) and _is_super_init(c)]
        self._register(mod, node.name, init, calls, node.name)

    def _function(self, mod: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if (mod.name, fn.name) in self.builders:
            return
        if id(fn) not in self._made:  # the calls in what it returns or raises
            made = [r.value if isinstance(r, ast.Return) else r.exc
                    for r in ast.walk(fn) if isinstance(r, ast.Return | ast.Raise)]  # fmt: skip
            self._made[id(fn)] = [
                c for v in made if v is not None for c in ast.walk(v) if isinstance(c, ast.Call)
            ]
        self._register(mod, fn.name, fn, self._made[id(fn)], None)

    def _register(
        self,
        mod: Module,
        name: str,
        fn: ast.FunctionDef | ast.AsyncFunctionDef,
        calls: list[ast.Call],
        cls: str | None,
    ) -> None:
        """A builder when a call it makes forwards one of its parameters as a code, status
        or detail (a function whose problem is fixed is found where it builds it)."""
        params, defaults = _parameters(fn)
        own = set(params)
        roles: dict[str, str] = {}
        inner: list[tuple[ast.Call, str | None]] = []
        for call in calls:
            callee = self._callee(call, mod, cls)
            if callee is None:
                continue
            for param, arg in self._bind(callee, call).items():
                role = callee.roles.get(param)
                forwarded = _passthrough(arg, own) if role else None
                if role and forwarded:
                    roles.setdefault(forwarded, role)
            inner.append((call, cls))
        if roles:
            self.builders[(mod.name, name)] = Builder(
                mod.name, name, tuple(params), defaults, roles, inner=tuple(inner)
            )

    def _bind(self, b: Builder, call: ast.Call) -> dict[str, ast.expr]:
        bound: dict[str, ast.expr] = {}
        for name, arg in zip(b.params, call.args, strict=False):
            if isinstance(arg, ast.Starred):
                break
            bound[name] = arg
        for kw in call.keywords:
            if kw.arg is not None:
                bound[kw.arg] = kw.value
        return bound

    def _resolve(self, func: ast.expr, mod: Module, cls: str | None) -> Builder | None:
        """The builder a name refers to in a module, if it is one."""
        if isinstance(func, ast.Name):
            if (mod.name, func.id) in self.builders:
                return self.builders[(mod.name, func.id)]
            if func.id in mod.imports:
                origin, original = mod.imports[func.id]
                return self.builders.get((origin, original))
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module = mod.modules.get(func.value.id)
            if module is not None and (module, func.attr) in self.builders:
                return self.builders[(module, func.attr)]
            found = [b for (_, n), b in sorted(self.builders.items(), key=lambda kv: kv[0])
                     if n == func.attr]  # fmt: skip
            return found[0] if len(found) == 1 else None
        return None

    def _callee(self, call: ast.Call, mod: Module, cls: str | None) -> Builder | None:
        if _is_super_init(call):
            if cls is None:
                return None
            node = next(
                (n for n in mod.tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None
            )
            for base in node.bases if node else []:
                found = self._resolve(base, mod, None)
                if found is not None:
                    return found
            return None
        return self._resolve(call.func, mod, cls)

    # -------------------------------------------------------------- sites

    def sites(self) -> list[Site]:
        found: set[Site] = set()
        nik_raisers: set[tuple[str, int | None]] = set()
        for mod in self.modules.values():
            for call, cls, fn in _calls(mod.tree):
                callee = self._callee(call, mod, cls)
                if callee is None:
                    continue
                for scope in self._variants(call, mod, fn):
                    for code, status, detail, code_expr in self._expand(callee, call, scope, 0):
                        if code is not None:
                            found.add(Site(code, mod.name, call.lineno, status, detail))
                        elif _is_issue_code(code_expr) and fn is not None and _calls_nik(fn):
                            nik_raisers.add((mod.name, status))
        for module, status in nik_raisers:
            for code, detail in self.nik_errors():
                found.add(Site(code, module, 0, status, detail))
        return sorted(
            found, key=lambda s: (s.code, s.module, s.line, str(s.status), s.detail or "")
        )

    def nik_errors(self) -> list[tuple[str, str]]:
        """The error codes `parse_nik` gives (not its warnings) and their messages."""
        mod = self.modules.get(NIK_MODULE)
        if mod is None:
            return []
        messages = mod.constants.get(NIK_MESSAGES)
        text = (
            {
                k.value: v.value
                for k, v in zip(messages.keys, messages.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
            if isinstance(messages, ast.Dict)
            else {}
        )
        fn = next(
            (n for n in mod.tree.body if isinstance(n, ast.FunctionDef) and n.name == NIK_FUNCTION),
            None,
        )
        if fn is None:
            return []
        warned = {
            id(c)
            for w in ast.walk(fn)
            if isinstance(w, ast.Call)
            and isinstance(w.func, ast.Attribute)
            and isinstance(w.func.value, ast.Name)
            and w.func.value.id == "warnings"
            for c in ast.walk(w)
        }
        codes = {
            c.args[0].value
            for c in ast.walk(fn)
            if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name)
            and c.func.id == "issue"
            and c.args
            and isinstance(c.args[0], ast.Constant)
            and isinstance(c.args[0].value, str)
            and id(c) not in warned
        }
        return sorted((code, str(text.get(code, ""))) for code in codes)

    def _expand(
        self, b: Builder, call: ast.Call, scope: Scope, depth: int
    ) -> Iterator[tuple[str | None, int | None, str | None, ast.expr | None]]:
        """(code, status, detail, the code's expression) of each problem a call builds."""
        if depth > _MAX_DEPTH:
            return
        bound: dict[str, Val] = {}
        args = list(_expand_starred(call.args, scope))
        for name, (arg, arg_scope) in zip(b.params, args, strict=False):
            bound[name] = (arg, arg_scope)
        for kw in call.keywords:
            if kw.arg is not None:
                bound[kw.arg] = (kw.value, scope)
        builder_mod = self.modules.get(b.module) or scope.module
        for name, default in b.defaults.items():
            bound.setdefault(name, (default, Scope(builder_mod, {})))
        if b.root is not None:
            by_role = {b.roles[p]: v for p, v in bound.items() if p in b.roles}
            if "allowed" in by_role and _constant(by_role["allowed"]) is not False:
                return
            code_val = by_role.get("code")
            code = _constant(code_val) if code_val else None
            status = _constant(by_role["status"]) if "status" in by_role else None
            detail = render(*by_role["detail"]) if "detail" in by_role else None
            yield (
                code if isinstance(code, str) else None,
                status if isinstance(status, int) and not isinstance(status, bool) else None,
                detail,
                _deref(code_val) if code_val else None,
            )
            return
        inner_scope = Scope(builder_mod, bound, fill=True)
        for inner, cls in b.inner:
            callee = self._callee(inner, builder_mod, cls)
            if callee is not None:
                yield from self._expand(callee, inner, inner_scope, depth + 1)

    def _variants(
        self, call: ast.Call, mod: Module, fn: ast.FunctionDef | ast.AsyncFunctionDef | None
    ) -> Iterator[Scope]:
        """The call's scope once per way its local names can be bound (rows of a table)."""
        base: dict[str, Val] = {}
        groups: list[list[dict[str, Val]]] = []
        if fn is not None:
            _, defaults = _parameters(fn)
            base = {k: (v, Scope(mod, {})) for k, v in defaults.items()}
            used = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
            if id(fn) not in self._groups:
                self._groups[id(fn)] = _local_groups(fn, mod)
            for names, variants in self._groups[id(fn)].items():
                if names & used:
                    groups.append(variants)
        for combo in itertools.islice(itertools.product(*groups), _MAX_VARIANTS):
            env = dict(base)
            for part in combo:
                env.update(part)
            yield Scope(mod, env)


# ------------------------------------------------------------------ evaluation


def _calls(
    tree: ast.Module,
) -> Iterator[tuple[ast.Call, str | None, ast.FunctionDef | ast.AsyncFunctionDef | None]]:
    """Every call with its enclosing class and function."""

    def visit(
        node: ast.AST, cls: str | None, fn: ast.FunctionDef | ast.AsyncFunctionDef | None
    ) -> Iterator[tuple[ast.Call, str | None, ast.FunctionDef | ast.AsyncFunctionDef | None]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, child.name, fn)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(child, cls, child)
            else:
                if isinstance(child, ast.Call):
                    yield child, cls, fn
                yield from visit(child, cls, fn)

    yield from visit(tree, None, None)


def _lookup(name: str, scope: Scope) -> Val | None:
    if name in scope.env:
        return scope.env[name]
    if name in scope.module.constants:
        return scope.module.constants[name], Scope(scope.module, {})
    return None


def _deref(val: Val, depth: int = 0) -> ast.expr:
    expr, scope = val
    while isinstance(expr, ast.Name) and depth < _MAX_DEPTH:
        found = _lookup(expr.id, scope)
        if found is None:
            break
        expr, scope = found
        depth += 1
    return expr


def _constant(val: Val, depth: int = 0) -> object:
    expr, scope = val
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name) and depth < _MAX_DEPTH:
        found = _lookup(expr.id, scope)
        return _constant(found, depth + 1) if found else None
    return None


def render(expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
    """A detail as written: literal text, f-string placeholders kept (or filled in from a
    literal argument), `+` of parts; None when the text is made elsewhere."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else None
    if isinstance(expr, ast.JoinedStr):
        out: list[str] = []
        for part in expr.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                out.append(_placeholder(part, scope, depth))
        return "".join(out)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left, right = render(expr.left, scope, depth + 1), render(expr.right, scope, depth + 1)
        if left is None and right is None:
            return None
        return (left if left is not None else "{" + ast.unparse(expr.left) + "}") + (
            right if right is not None else "{" + ast.unparse(expr.right) + "}"
        )
    if isinstance(expr, ast.Name):
        found = _lookup(expr.id, scope)
        return render(*found, depth + 1) if found else None
    if isinstance(expr, ast.Call):
        f = expr.func
        if isinstance(f, ast.Attribute) and f.attr == "format":  # "… {method} …".format(…)
            return render(f.value, scope, depth + 1)
        if len(expr.args) == 1 and not expr.keywords and isinstance(expr.args[0], ast.Name):
            return render(expr.args[0], scope, depth + 1)  # mask_niks_in_text(detail)
    return None


def _placeholder(part: ast.FormattedValue, scope: Scope, depth: int) -> str:
    if (
        isinstance(part.value, ast.Name)
        and part.conversion == -1
        and part.format_spec is None
        and scope.fill
        and part.value.id in scope.env
    ):
        value = _constant(scope.env[part.value.id])
        if isinstance(value, str):
            return value
    text = ast.unparse(part.value)
    if part.conversion != -1:
        text += "!" + chr(part.conversion)
    if isinstance(part.format_spec, ast.JoinedStr):
        text += ":" + "".join(
            str(v.value) if isinstance(v, ast.Constant) else _placeholder(v, scope, depth)
            for v in part.format_spec.values
            if isinstance(v, ast.Constant | ast.FormattedValue)
        )
    return "{" + text + "}"


def _expand_starred(args: Iterable[ast.expr], scope: Scope) -> Iterator[Val]:
    for arg in args:
        if isinstance(arg, ast.Starred):
            target = _deref((arg.value, scope))
            if isinstance(target, ast.Tuple):
                for elt in target.elts:
                    yield elt, Scope(scope.module, {})
                continue
            return
        yield arg, scope


def _possible(
    expr: ast.expr, mod: Module, local: dict[str, list[ast.expr]], depth: int = 0
) -> list[ast.expr]:
    """What a right-hand side can be: a local or module name followed, a row of a dict
    literal read with `[…]` or `.get(…)`."""
    if depth > _MAX_DEPTH:
        return [expr]
    if isinstance(expr, ast.Name):
        if expr.id in local:
            return [p for e in local[expr.id] for p in _possible(e, mod, local, depth + 1)]
        if expr.id in mod.constants:
            return _possible(mod.constants[expr.id], mod, local, depth + 1)
        return [expr]
    table: ast.expr | None = None
    if isinstance(expr, ast.Subscript):
        table = expr.value
    elif (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "get"
        and len(expr.args) == 1
    ):
        table = expr.func.value
    if table is not None:
        rows = _possible(table, mod, local, depth + 1)
        values = [v for r in rows if isinstance(r, ast.Dict) for v in r.values]
        if values:
            return [p for v in values for p in _possible(v, mod, local, depth + 1)]
    return [expr]


def _local_groups(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, mod: Module
) -> dict[frozenset[str], list[dict[str, Val]]]:
    """A function's assignments to local names, by the names assigned together: each
    variant binds them to one possible value (a tuple unpacked from a table's row)."""
    assigns = [
        (n.targets[0], n.value)
        for n in ast.walk(fn)
        if isinstance(n, ast.Assign) and len(n.targets) == 1
    ]
    single: dict[str, list[ast.expr]] = {}
    for target, value in assigns:
        if isinstance(target, ast.Name):
            single.setdefault(target.id, []).append(value)
    plain = Scope(mod, {})
    groups: dict[frozenset[str], list[dict[str, Val]]] = {}
    for target, value in assigns:
        if isinstance(target, ast.Name):
            names = [target.id]
        elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            names = [e.id for e in target.elts if isinstance(e, ast.Name)]
        else:
            continue
        key = frozenset(names)
        for option in _possible(value, mod, {k: v for k, v in single.items() if k not in key}):
            if len(names) == 1 and not isinstance(target, ast.Tuple):
                groups.setdefault(key, []).append({names[0]: (option, plain)})
            elif isinstance(option, ast.Tuple) and len(option.elts) == len(names):
                groups.setdefault(key, []).append(
                    {n: (e, plain) for n, e in zip(names, option.elts, strict=True)}
                )
    return groups


def _is_issue_code(expr: ast.expr | None) -> bool:
    """`info.errors[0].code`, `first.code`: the code of a registry check's issue."""
    return isinstance(expr, ast.Attribute) and expr.attr == "code"


def _calls_nik(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == NIK_FUNCTION
        for c in ast.walk(fn)
    )


# ------------------------------------------------------------------ the catalogue


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else TOP_LEVEL


def collect(root: Path = SOURCE) -> list[Site]:
    """Every site in the tree that builds a problem with a literal code."""
    return Source(root).sites()


def catalogue(sites: Iterable[Site]) -> list[Entry]:
    """One entry per (package, code), sorted by package then code."""
    by_key: dict[tuple[str, str], list[Site]] = {}
    for s in sites:
        by_key.setdefault((package_of(s.module), s.code), []).append(s)
    entries = []
    for (package, code), group in by_key.items():
        statuses = sorted({str(s.status) if s.status is not None else VARIES for s in group},
                          key=lambda x: (x == VARIES, x))  # fmt: skip
        details = sorted({s.detail for s in group if s.detail is not None})
        modules = sorted({s.module for s in group})
        entries.append(Entry(package, code, tuple(statuses), tuple(details), tuple(modules)))
    return sorted(entries, key=lambda e: (e.package == TOP_LEVEL, e.package, e.code))


def codes(sites: Iterable[Site]) -> set[str]:
    return {s.code for s in sites}


def documented(page: str) -> set[str]:
    """The codes in the first column of the page's tables."""
    out = set()
    for line in page.splitlines():
        if line.startswith("| `"):
            out.add(line[3:].split("`", 1)[0])
    return out


def undocumented(page: str, sites: Iterable[Site]) -> list[str]:
    return sorted(codes(sites) - documented(page))


def statuses_by_code(sites: Iterable[Site]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s in sites:
        out.setdefault(s.code, set()).add(str(s.status) if s.status is not None else VARIES)
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


INTRO = """\
# Error codes

<!-- Generated from the source by `python -m simpul.kit.errorcodes` (`make docs`); do not
edit by hand: tests/test_error_codes.py fails when this page is stale. -->

Every refusal of the API is an RFC 9457 problem (`Content-Type: application/problem+json`):

```json
{example}
```

`code` is stable: a client acts on it, and it names the problem's `type`. `detail` is
Indonesian prose for a person and may be reworded. Some problems add fields: `kolom` (the
invalid fields of a request), `coba_lagi_detik` (with a 429), `galat` (the faults of an
agreement file). A 401 carries `WWW-Authenticate: {challenge}`.

A refusal of a governed call is also written to the audit log, and the record's `reason` is
the same `code`: the access policy's refusals by the agreement (`deny`, e.g.
`perjanjian_ditangguhkan`, `elemen_di_luar_hibah`) and every problem an operation run by the
kernel raises, so a refusal a recipient saw and its record name the same cause. The portal
shows the same refusals on its pages (its own wording for a code it knows, else the
`detail`), and the `simpul` commands print them.

Below, one table per package, read from the source by `simpul.kit.errorcodes`: the HTTP
status written where the problem is built, or its class's default (*{varies}*: not a
literal); the detail as the code writes it, `{{…}}` being filled in at run time (*(computed)*:
the text comes from elsewhere); and the modules that build it. The NIK checks of
`simpul.registry.identifiers.parse_nik` are listed under each package that refuses a
malformed NIK with the check's own code.
"""


def _example(entries: list[Entry]) -> str:
    pick = next((e for e in entries if e.code == "elemen_di_luar_hibah" and e.details), None)
    code = pick.code if pick else "contoh_kode"
    status = pick.statuses[0] if pick and pick.statuses[0] != VARIES else "403"
    detail = pick.details[0] if pick else "Penjelasan dalam bahasa Indonesia."
    detail = detail.replace("\\", "\\\\").replace('"', '\\"')
    title = code.replace("_", " ").capitalize()
    return "\n".join([
        "{",
        f'  "type": "https://simpul.go.id/problems/{code}",',
        f'  "title": "{title}",',
        f'  "status": {status},',
        f'  "code": "{code}",',
        f'  "detail": "{detail}",',
        '  "instance": "/api/v1/datasets/kependudukan/verifikasi"',
        "}",
    ])  # fmt: skip


def markdown(entries: list[Entry], challenge: str = "") -> str:
    lines = [
        INTRO.format(example=_example(entries), challenge=challenge, varies=VARIES).rstrip(),
        "",
    ]
    distinct = len({e.code for e in entries})
    lines += [f"{distinct} codes in all.", ""]
    for package, group in itertools.groupby(entries, key=lambda e: e.package):
        rows = list(group)
        title = f"`{package}`" if package != TOP_LEVEL else "Top-level modules (`simpul.app`, …)"
        lines += [f"## {title}", "", "| `code` | HTTP | detail | where |", "|---|---|---|---|"]
        for e in rows:
            detail = "<br>".join(_cell(d) for d in e.details) or "*(computed)*"
            where = ", ".join(f"`{m}`" for m in e.modules)
            lines.append(f"| `{e.code}` | {', '.join(e.statuses)} | {detail} | {where} |")
        lines.append("")
    return "\n".join(lines)


def page(root: Path = SOURCE) -> str:
    """docs/errors.md for the package tree at `root`."""
    return page_of(Source(root))


def page_of(source: Source) -> str:
    errors = source.modules.get(f"{source.root.name}.errors")
    value = errors.constants.get("AUTH_CHALLENGE") if errors else None
    challenge = value.value if isinstance(value, ast.Constant) else ""
    return markdown(catalogue(source.sites()), str(challenge))


def main() -> None:
    sys.stdout.buffer.write(page().encode("utf-8"))  # UTF-8 whatever the locale


if __name__ == "__main__":
    main()
