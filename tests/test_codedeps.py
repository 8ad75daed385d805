"""mlmpipe.codedeps: the static import closure of a library function, on a synthetic package
(every import shape) and on mlmpipe itself, and the rule -> code mapping of the workflow."""

import re
import textwrap
from pathlib import Path

import pytest

from mlmpipe import codedeps

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "src" / "mlmpipe"

TOY = {
    "__init__.py": "from toypkg.core import VALUE\n",
    "core.py": "VALUE = 1\n",
    "steps.py": """
        from typing import TYPE_CHECKING

        from toypkg import util
        from toypkg.sub.leaf import leaf_fn
        from toypkg import viamod as vm

        if TYPE_CHECKING:
            from toypkg.typing_only import Hint


        def step_a(x):
            from toypkg.heavy import compute

            return compute(x) + _helper()


        def _helper():
            from .relmod import rel

            return rel()


        def step_b():
            return util.f()


        def step_c():
            return leaf_fn()


        def step_d():
            return vm.one()


        def step_e():
            import toypkg.deep.inner

            return toypkg.deep.inner.g()
        """,
    "util.py": "def f():\n    return 1\n",
    "heavy.py": "from toypkg import cyc_a\n\n\ndef compute(x):\n    return cyc_a.g(x)\n",
    "cyc_a.py": "from toypkg import cyc_b\n\n\ndef g(x):\n    return cyc_b.h(x)\n",
    "cyc_b.py": "from toypkg import cyc_a\n\n\ndef h(x):\n    return cyc_a.g(x) if x else x\n",
    "relmod.py": "def rel():\n    return 0\n",
    "viamod.py": """
        def one():
            return 1


        def two():
            from toypkg.unused import z

            return z
        """,
    "unused.py": "z = 0\n",
    "typing_only.py": "class Hint: ...\n",
    "registry.py": "TABLE = {}\n\n\ndef register(name):\n    TABLE[name] = True\n",
    "sub/__init__.py": "from toypkg.registry import register\n\nregister('sub')\n",
    "sub/leaf.py": """
        def leaf_fn():
            return 2


        def other():
            from toypkg.unused import z

            return z
        """,
    "deep/__init__.py": "",
    "deep/inner.py": "from .sibling import s\n\n\ndef g():\n    return s()\n",
    "deep/sibling.py": "def s():\n    return 3\n",
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src") / "toypkg"
    for name, text in TOY.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def rel(files, root: Path) -> set[str]:
    return {str(Path(f).relative_to(root)) for f in files}


def test_function_level_relative_and_cyclic_imports(toy):
    got = rel(codedeps.import_closure("toypkg.steps:step_a", toy), toy)
    # function-level import, the relative import of the helper it calls, the cycle a <-> b;
    # util/leaf/viamod are only loaded (top-level imports step_a does not use), typing_only never
    assert got == {"steps.py", "heavy.py", "cyc_a.py", "cyc_b.py", "relmod.py", "sub/__init__.py",
                   "registry.py"}  # fmt: skip


def test_submodule_in_from_import_and_attribute_use(toy):
    assert rel(codedeps.import_closure("toypkg.steps:step_b", toy), toy) == {
        "steps.py", "util.py", "sub/__init__.py", "registry.py"
    }  # fmt: skip
    # `from toypkg import viamod as vm` + vm.one(): one() only, not two()'s import of unused
    got = rel(codedeps.import_closure("toypkg.steps:step_d", toy), toy)
    assert "viamod.py" in got and "unused.py" not in got


def test_package_init_with_import_time_effects_is_included(toy):
    got = rel(codedeps.import_closure("toypkg.steps:step_c", toy), toy)
    # importing toypkg.sub.leaf runs sub/__init__.py, which registers: it counts (with registry);
    # toypkg/__init__.py only re-exports a constant and core.py only defines one: they do not
    assert got == {"steps.py", "sub/leaf.py", "sub/__init__.py", "registry.py"}
    assert not {"__init__.py", "core.py", "unused.py"} & got


def test_dotted_import_and_relative_import_in_a_subpackage(toy):
    got = rel(codedeps.import_closure("toypkg.steps:step_e", toy), toy)
    assert {"deep/inner.py", "deep/sibling.py"} <= got


def test_whole_module_target_takes_every_import(toy):
    got = rel(codedeps.import_closure("toypkg.steps", toy), toy)
    assert {"heavy.py", "relmod.py", "util.py", "sub/leaf.py", "viamod.py"} <= got
    assert "typing_only.py" not in got  # `if TYPE_CHECKING:` never runs
    assert "unused.py" not in got  # only leaf.other and viamod.two import it; nothing calls them
    assert "unused.py" in rel(codedeps.import_closure("toypkg.sub.leaf", toy), toy)


def test_unknown_targets_fail(toy):
    with pytest.raises(ValueError, match="no 'nope'"):
        codedeps.import_closure("toypkg.steps:nope", toy)
    with pytest.raises(ValueError, match="no module"):
        codedeps.import_closure("toypkg.missing_module:f", toy)


def test_closure_is_cached_and_a_function_of_the_tree(toy):
    a = codedeps.import_closure("toypkg.steps:step_a", toy)
    assert codedeps.import_closure("toypkg.steps:step_a", toy) is a
    assert all(Path(f).is_absolute() and f.endswith(".py") for f in a) and list(a) == sorted(a)


def lib(target: str) -> set[str]:
    return rel(codedeps.code_files(target), LIB)


def test_real_closures_cover_what_the_hand_lists_missed():
    assert "engine/lmm.py" in lib("mlmpipe.steps.models:fit_step")
    effects = lib("mlmpipe.steps.effects:effects_step")
    assert {"engine/lmm.py", "formula/parse.py", "formula/design.py"} <= effects
    assert "missing/pool.py" in lib("mlmpipe.steps.models:compare_step")
    assert "engine/lmm.py" not in lib("mlmpipe.steps.report:apa_tables_step")
    assert "report/apa.py" not in lib("mlmpipe.steps.models:fit_step")


def rule_code() -> dict[str, tuple[list[str], str | None]]:
    """Rule -> (its code= targets, its script), read from workflow/rules/*.smk."""
    out = {}
    for smk in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for block in re.split(r"(?m)^\s*rule (?=\w+:)", smk.read_text())[1:]:
            name = block.split(":", 1)[0]
            script = re.search(r'script:\s*"\.\./scripts/(\w+\.py)"', block)
            code = re.search(
                r"code=codedeps\.code_files\((.*?)\),\n\s*(?:\w+=|output:)", block, re.S
            )
            targets = re.findall(r'"(mlmpipe[.:\w]*)"', code.group(1)) if code else []
            if code and "script_targets(" in code.group(1):  # the report notebook
                targets += codedeps.script_targets(ROOT / "workflow/notebooks/report.ipynb")
            out[name] = (targets, script and script.group(1))
    return out


def test_every_rule_lists_the_closure_of_what_its_script_calls():
    rules = rule_code()
    assert len(rules) >= 25
    for name, (targets, script) in rules.items():
        if name == "fetch_example":  # writes the protected raw data: never rerun for code
            assert targets == []
            continue
        called = codedeps.script_targets(ROOT / "workflow/scripts" / script)
        assert called, name
        if name == "report":
            called += codedeps.script_targets(ROOT / "workflow/notebooks/report.ipynb")
        assert sorted(set(targets)) == sorted(set(called)), name
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        assert "library_files" not in smk.read_text(), smk.name


def test_editing_a_module_outdates_exactly_the_rules_that_run_it():
    files = {r: lib_all(t) for r, (t, _) in rule_code().items() if t}

    def rules_of(module: str) -> set[str]:
        return {r for r, fs in files.items() if module in fs}

    fitting = {"fit", "effects", "diagnose", "interactions", "profile_ci", "bootstrap_batch"}
    assert fitting <= rules_of("engine/lmm.py")
    assert not {"apa_tables", "compare", "pool", "report", "report_docx"} & rules_of(
        "engine/lmm.py"
    )
    assert rules_of("report/apa.py") == {"apa_tables"}
    assert rules_of("missing/pool.py") >= {"pool", "compare"}
    assert rules_of("centering.py") >= {"centering_state", "center"}
    assert "fit" not in rules_of("centering.py")


def lib_all(targets: list[str]) -> set[str]:
    return rel(codedeps.code_files(*targets), LIB)


def test_no_package_class_acts_when_subclassed():
    """codedeps does not count deriving from a package class as import-time action: true while
    no class of the package defines ``__init_subclass__``."""
    hits = [p.name for p in LIB.rglob("*.py") if "__init_subclass__" in p.read_text()]
    assert hits == []
