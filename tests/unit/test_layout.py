"""The package follows its one rule for where code lives (README, "Layout")."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
MODULES = sorted(p for p in (ROOT / "toylab").glob("*.py") if p.stem != "__init__")


def test_every_chapter_has_its_module():
    missing = [c for c in CHAPTERS if not (ROOT / "toylab" / f"{c}.py").exists()]
    assert not missing, f"chapters without a toylab module of the same name: {missing}"


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem in CHAPTERS], ids=lambda p: p.stem)
def test_no_chapter_module_imports_another(path):
    tree = ast.parse(path.read_text())
    imported = {
        n.module.split(".")[1]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("toylab.")
    }
    imported |= {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "toylab"
        for a in n.names
    }
    assert not imported & (set(CHAPTERS) - {path.stem}), f"{path.stem} imports {imported}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_public_helper_names_where_it_is_taught(path):
    tree = ast.parse(path.read_text())
    silent = [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
        and not n.name.startswith("_")
        and "Taught in:" not in (ast.get_docstring(n) or "")
    ]
    assert not silent, f"{path.stem}: no 'Taught in:' line in the docstrings of {silent}"


# --- Who uses what, by qualified name (issue 31); the rule is in the docstring below --------

PACKAGE = ("", None)  # what the bare name ``toylab`` resolves to
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _toplevel(body):
    """The statements run at a module's top level, looking inside if/try/with blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                yield from _toplevel(getattr(stmt, part, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _toplevel(handler.body)


def _definitions(tree):
    """{name: [nodes]} for a module's top-level defs, classes and assignments."""
    defs = {}
    for stmt in _toplevel(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        defs.setdefault(n.id, []).append(stmt)
    return defs


def _imports(tree, modules, here=None):
    """{bound name: (module, name) or (module, None) or PACKAGE} for every toylab import in a file.

    ``here`` is the module's own name, for relative imports inside toylab.
    """
    bound = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                parts = a.name.split(".")
                if parts[0] != "toylab":
                    continue
                if a.asname and len(parts) == 2 and parts[1] in modules:
                    bound[a.asname] = (parts[1], None)
                elif not a.asname:
                    bound["toylab"] = PACKAGE
        elif isinstance(n, ast.ImportFrom):
            if n.level:  # relative: only meaningful inside toylab (one level up is the package)
                if here is None or n.level != 1:
                    continue
                source = n.module
            elif n.module == "toylab" or (n.module or "").startswith("toylab."):
                source = n.module.partition(".")[2] or None
            else:
                continue
            for a in n.names:
                if source is None:  # from toylab import <module>
                    if a.name in modules:
                        bound[a.asname or a.name] = (a.name, None)
                elif source in modules and a.name != "*":
                    bound[a.asname or a.name] = (source, a.name)
    return bound


def _binds(stmts):
    """The names a scope binds itself (imports aside: they resolve through ``_imports``)."""
    names, todo = set(), list(stmts)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)  # its body is another scope
            continue
        if isinstance(n, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            names.difference_update(n.names)  # (approximate: order of statements ignored)
        todo.extend(ast.iter_child_nodes(n))
    return names


def _arg_names(args):
    every = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


class _File:
    """One parsed file, a toylab module or a notebook, and what its names resolve to."""

    def __init__(self, source, modules, here=None):
        self.tree = ast.parse(source)
        self.here = here
        self.defs = _definitions(self.tree) if here else {}
        self.imported = _imports(self.tree, modules, here)

    def lookup(self, name):
        if name in self.defs:
            return (self.here, name)
        return self.imported.get(name)


class Project:
    """toylab's modules and the chapters' notebooks, and who uses what (the rule:
    ``test_every_taught_in_line_is_true``)."""

    def __init__(self, modules: dict[str, str], notebooks: dict[str, str]):
        self.files = {m: _File(src, modules, here=m) for m, src in modules.items()}
        self.chapters = sorted(notebooks)
        self.notebooks = {c: _File(src, modules) for c, src in notebooks.items()}
        self._uses = {}  # (module, name) -> {(module, name)} its code refers to
        self.users = {}  # (module, name) -> {chapters}
        for chapter, nb in self.notebooks.items():
            for key in self.closure(self._refs(nb, [nb.tree])):
                self.users.setdefault(key, set()).add(chapter)

    @classmethod
    def from_disk(cls, root: Path):
        return cls(
            {p.stem: p.read_text() for p in (root / "toylab").glob("*.py")},
            {p.stem: p.read_text() for p in (root / "notebooks").glob("*.py")},
        )

    def canonical(self, key, seen=()):
        """A (module, name) as defined: a name another module imported is the original."""
        module, name = key
        file = self.files.get(module)
        if name is None or file is None or name in file.defs or key in seen:
            return key
        if name in file.imported:
            return self.canonical(file.imported[name], (*seen, key))
        return key

    def _resolve(self, file, node, local):
        """What a Name or Attribute refers to in toylab, or None."""
        if isinstance(node, ast.Name):
            if node.id in local:
                return None
            found = file.lookup(node.id)
            return found if found is None or found == PACKAGE else self.canonical(found)
        if isinstance(node, ast.Attribute):
            base = self._resolve(file, node.value, local)
            if base == PACKAGE:
                return (node.attr, None) if node.attr in self.files else None
            if base is not None and base[1] is None:  # an attribute of a toylab module
                return self.canonical((base[0], node.attr))
        return None

    def _refs(self, file, nodes, local=frozenset()):
        """The toylab definitions ``nodes`` refer to, as {(module, name)}."""
        found = set()
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                outer = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
                outer += getattr(node, "decorator_list", [])
                found |= self._refs(file, outer, local)
                body = node.body if isinstance(node.body, list) else [node.body]
                inner = local | _arg_names(args) | _binds(body)
                found |= self._refs(file, body, inner)
            elif isinstance(node, ast.ClassDef):
                outer = [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
                found |= self._refs(file, outer + node.body, local)
            elif isinstance(node, _COMPREHENSIONS):
                inner = local | {
                    n.id
                    for g in node.generators
                    for n in ast.walk(g.target)
                    if isinstance(n, ast.Name)
                }
                found |= self._refs(file, list(ast.iter_child_nodes(node)), inner)
            elif isinstance(node, ast.AnnAssign):
                found |= self._refs(file, [node.target, node.value] if node.value else [], local)
            elif isinstance(node, ast.arg):
                continue  # only its annotation is below it
            elif isinstance(node, (ast.Name, ast.Attribute)):
                if not isinstance(node.ctx, ast.Load):  # binding or deleting a name is no use
                    found |= self._refs(file, list(ast.iter_child_nodes(node)), local)
                    continue
                key = self._resolve(file, node, local)
                if key is not None and key != PACKAGE and key[1] is not None:
                    found.add(key)
                elif key is None and isinstance(node, ast.Attribute):
                    found |= self._refs(file, [node.value], local)
            else:
                found |= self._refs(file, list(ast.iter_child_nodes(node)), local)
        return found

    def uses(self, key):
        """What the code of toylab's ``module.name`` refers to directly."""
        if key not in self._uses:
            file = self.files.get(key[0])
            nodes = file.defs.get(key[1], []) if file else []
            self._uses[key] = self._refs(file, nodes) - {key} if nodes else set()
        return self._uses[key]

    def closure(self, keys):
        seen, todo = set(), list(keys)
        while todo:
            key = todo.pop()
            if key not in seen:
                seen.add(key)
                todo.extend(self.uses(key))
        return seen

    def helpers(self, module):
        """(name, class or None, node) for each public function and class of ``module`` and the
        public methods of its public classes."""
        for stmt in self.files[module].tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if stmt.name.startswith("_"):
                    continue
                yield stmt.name, None, stmt
                if isinstance(stmt, ast.ClassDef):
                    for sub in stmt.body:
                        if isinstance(
                            sub, (ast.FunctionDef, ast.AsyncFunctionDef)
                        ) and not sub.name.startswith("_"):
                            yield sub.name, stmt.name, sub


def _no_chapter_yet(line):
    return line.removeprefix("Taught in:").strip().lower().startswith("no chapter yet")


def taught_in(docstring: str, chapters) -> tuple[str, set[str] | None]:
    """The "Taught in:" paragraph of a docstring, and the chapters it names (None: no line)."""
    start = (docstring or "").find("Taught in:")
    if start < 0:
        return "", None
    line = " ".join(docstring[start:].split("\n\n")[0].split())
    claim = line.removeprefix("Taught in:").strip()
    if _no_chapter_yet(line):
        return line, set()
    words = set(re.findall(r"\w+", re.sub(r"`+[^`]*`+", " ", claim)))
    named = set(chapters) if re.search(r"\bevery chapter\b", claim) else words & set(chapters)
    return line, named


def _quote(line, width=110):
    return repr(line if len(line) <= width else line[: width - 3] + "...")


def _who(users):
    return ", ".join(sorted(users)) if users else "no chapter"


def taught_in_errors(project: Project, module: str) -> list[str]:
    """Every helper of ``module`` whose "Taught in:" line names a chapter that does not use it."""
    errors = []
    for name, cls, node in project.helpers(module):
        line, named = taught_in(ast.get_docstring(node), project.chapters)
        if named is None or (not named and not _no_chapter_yet(line)):
            continue  # no line (the test above), or one that names no chapter
        qual = f"{module}.{cls}.{name}" if cls else f"{module}.{name}"
        users = project.users.get(project.canonical((module, cls or name)), set())
        if not named and users:
            errors.append(f"{qual} says {_quote(line)} but {_who(users)} uses it")
        elif named - users:
            errors.append(
                f"{qual} says {_quote(line)} but {_who(named - users)} never uses it"
                f" (used by: {_who(users)})"
            )
    return errors


# the one adapter allowed to touch TransformerLens internals (issue 31): no two-or-more rule
SOLE_ADAPTERS = {"bridge"}


def placement_errors(project: Project, module: str) -> list[str]:
    """The layout rule for ``module``'s top-level definitions: in a chapter's module, used by no
    other chapter; in a shared module, public ones used by two or more chapters."""
    errors = []
    if module in project.chapters:
        for name in sorted(project.files[module].defs):
            others = project.users.get((module, name), set()) - {module}
            if others:
                errors.append(
                    f"{module}.{name} is in the module of chapter {module} but {_who(others)}"
                    " uses it too: it belongs in a shared module"
                )
        return errors
    if module in SOLE_ADAPTERS:
        return errors
    for name, cls, _ in project.helpers(module):
        users = project.users.get((module, name), set())
        if cls is None and len(users) < 2:
            truth = f"only {_who(users)}" if users else "no chapter"
            where = f"toylab/{next(iter(users))}.py" if users else "no module yet"
            errors.append(
                f"{module}.{name} is in the shared module {module} but is used by {truth}:"
                f" it belongs in {where}"
            )
    return errors


@pytest.fixture(scope="module")
def project():
    return Project.from_disk(ROOT)


@pytest.mark.parametrize("module", [p.stem for p in MODULES])
def test_every_taught_in_line_is_true(project, module):
    """Every chapter a helper's "Taught in:" line names uses the helper.

    A chapter USES a helper when its notebook refers to it, or refers to a toylab
    definition whose code refers to it, and so on: the closure of "refers to" over toylab's
    module-level definitions, starting from what the notebook refers to. Everything is
    resolved by qualified name, ``toylab.<module>.<name>``, never by bare name: a ``train``
    is ``toylab.train.train`` only where an import made it so.

    - A reference is a name read (not bound) that an import of toylab bound
      (``from toylab.train import train``, ``import toylab.icl_regression as icl`` then
      ``icl.foo``, ``from toylab import ode_circuits as ode`` then ``ode.foo``,
      ``import toylab`` then ``toylab.heads.foo``, relative imports inside toylab), or,
      inside a toylab module, a name defined at that module's top level (def, class or
      assignment: ``BASELINES = {...}`` passes use on to the functions it lists). Importing
      a name without reading it is no use. A name that the enclosing function, lambda or
      comprehension binds itself (a parameter, an assignment, a loop variable) is local, not
      a reference. An import anywhere in a file (in a function, under ``if TYPE_CHECKING``)
      counts for the whole file.
    - A definition's code is what Python runs to define or call it: the body, decorators,
      default values, base classes, an assignment's value. Annotations are not uses.
    - Methods count as their class: using ``Ensemble`` uses whatever any of its methods
      refers to, and a method's own "Taught in:" line is checked against its class's users.
    - A name one toylab module imports from another and a chapter reads through the first
      is the original definition.
    - Only notebooks/<chapter>.py are chapters; tests, scripts and book pages are not.

    A "Taught in:" line is the docstring's paragraph from "Taught in:" on. It names the
    chapter names among its words outside ``code`` spans ("through
    ``grokking.frequency_share``" names no chapter), or all chapters if it says "every
    chapter". A line that starts "no chapter yet" names none, and then no chapter may use
    the helper. A line that names no chapter otherwise (claims: "the introduction") is not
    checked. The converse, every user named, is not asserted.
    """
    errors = taught_in_errors(project, module)
    assert not errors, "\n".join(["'Taught in:' lines that are not true:", *errors])


@pytest.mark.parametrize("module", [p.stem for p in MODULES])
def test_every_helper_lives_where_the_rule_says(project, module):
    """The layout rule, with "used" as in ``test_every_taught_in_line_is_true``.

    A public function or class of a shared module (one not named like a chapter) is used by
    two or more chapters; a helper it serves inherits its users, so use through another
    shared helper counts. Every top-level name of a chapter's module, private or not, is used
    by no other chapter (which also catches a notebook importing another chapter's module).
    """
    errors = placement_errors(project, module)
    assert not errors, "\n".join(["helpers in the wrong module:", *errors])


# A hand-built book: the checks themselves, on a case whose answers are known. The planted
# mistakes: shared.helper, shared.lonely, shared.train and shared.Box.open name a chapter that
# does not use them; chapter_a.unused says "no chapter yet" but chapter_b uses it, which also
# breaks the rule for a chapter's module; and shared's helpers each have at most one chapter.
TOY_MODULES = {
    "util": '''
def deep():
    """Taught in: chapter_a §1, through ``helper``; chapter_b §1, through ``Box``."""
''',
    "shared": '''
from . import util
from .util import deep as _deep


def helper():
    """Taught in: chapter_a §1; chapter_b §2."""
    return _inner()


def _inner():
    return _deep()


def lonely():
    """Taught in: chapter_b §3."""


def train(steps, helper=None):
    """Taught in: every chapter."""
    return [lonely for lonely in steps], helper  # both names local here: no use


class Box:
    """Taught in: chapter_b §1."""

    def open(self):
        """Taught in: chapter_a §1."""
        return util.deep()
''',
    "chapter_a": '''
from toylab.shared import Box
from toylab.shared import helper as h

TABLE = {"h": h}


def run(x: Box) -> Box:
    """Taught in: chapter_a §1."""
    return TABLE[x]


def unused():
    """Taught in: no chapter yet. chapter_a §2 talks about it."""
''',
    "chapter_b": '''
def spare():
    """Taught in: no chapter yet."""
''',
}
TOY_NOTEBOOKS = {
    "chapter_a": """
import toylab.chapter_a as ca


def train():  # the chapter's own train, not toylab.shared.train
    pass


ca.run(1)
train()
""",
    "chapter_b": """
import toylab
from toylab import shared as sh
from toylab.chapter_a import unused


def go(lonely):  # a parameter named like a helper is no use of it
    return lonely


toylab.shared.train(1)
sh.Box().open()
unused()
""",
}


def test_the_checks_on_a_hand_built_book():
    toy = Project(TOY_MODULES, TOY_NOTEBOOKS)
    a, b = {"chapter_a"}, {"chapter_b"}
    assert toy.users == {
        # chapter_a: ca.run (an alias) -> TABLE -> helper -> _inner -> util.deep, by `_deep`;
        # run's annotations name Box, which is no use of it
        ("chapter_a", "run"): a,
        ("chapter_a", "TABLE"): a,
        ("shared", "helper"): a,
        ("shared", "_inner"): a,
        ("util", "deep"): a | b,
        # chapter_b: toylab.shared.train; sh.Box, whose method open uses util.deep
        ("shared", "train"): b,
        ("shared", "Box"): b,
        ("chapter_a", "unused"): b,
    }
    assert taught_in_errors(toy, "util") == []
    assert taught_in_errors(toy, "shared") == [
        "shared.helper says 'Taught in: chapter_a §1; chapter_b §2.' but chapter_b never uses it"
        " (used by: chapter_a)",
        "shared.lonely says 'Taught in: chapter_b §3.' but chapter_b never uses it"
        " (used by: no chapter)",
        "shared.train says 'Taught in: every chapter.' but chapter_a never uses it"
        " (used by: chapter_b)",
        "shared.Box.open says 'Taught in: chapter_a §1.' but chapter_a never uses it"
        " (used by: chapter_b)",
    ]
    assert taught_in_errors(toy, "chapter_a") == [
        "chapter_a.unused says 'Taught in: no chapter yet. chapter_a §2 talks about it.'"
        " but chapter_b uses it"
    ]
    assert taught_in_errors(toy, "chapter_b") == []
    assert placement_errors(toy, "util") == []
    assert placement_errors(toy, "shared") == [
        "shared.helper is in the shared module shared but is used by only chapter_a:"
        " it belongs in toylab/chapter_a.py",
        "shared.lonely is in the shared module shared but is used by no chapter:"
        " it belongs in no module yet",
        "shared.train is in the shared module shared but is used by only chapter_b:"
        " it belongs in toylab/chapter_b.py",
        "shared.Box is in the shared module shared but is used by only chapter_b:"
        " it belongs in toylab/chapter_b.py",
    ]
    assert placement_errors(toy, "chapter_a") == [
        "chapter_a.unused is in the module of chapter chapter_a but chapter_b uses it too:"
        " it belongs in a shared module"
    ]
    assert placement_errors(toy, "chapter_b") == []


def test_taught_in_parsing():
    chapters = ["grokking", "grokking_network", "icl_regression"]
    assert taught_in("Sum.\n\nTaught in: grokking §4.1, through ``grokking_network.f``.", chapters)[
        1
    ] == {"grokking"}
    assert taught_in(
        "Taught in: grokking_network §1\n(and icl_regression §2).\n\nMore.", chapters
    ) == (
        "Taught in: grokking_network §1 (and icl_regression §2).",
        {"grokking_network", "icl_regression"},
    )
    assert taught_in("Taught in: no chapter yet. grokking §4 mentions it.", chapters)[1] == set()
    assert taught_in("Taught in: grokking §3; used in every chapter.", chapters)[1] == set(chapters)
    assert taught_in("Taught in: the introduction.", chapters)[1] == set()
    assert taught_in("No line.", chapters)[1] is None
