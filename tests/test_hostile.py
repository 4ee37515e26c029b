"""Run the hostile-input corpus (tests/hostile/cases_*.py; the format is in tests/support/hostile.py)."""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from pathlib import Path

import hostile
import pytest
from click.testing import CliRunner
from support.hostile import Case, snapshot

from unitax.tools.cli import main


def _cases() -> list[Case]:
    cases: list[Case] = []
    for mod in sorted(m.name for m in pkgutil.iter_modules(hostile.__path__) if m.name.startswith("cases_")):
        cases.extend(importlib.import_module(f"hostile.{mod}").CASES)
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, f"duplicate case names: {dup}"
    return cases


CASES = _cases()


def test_corpus_size() -> None:
    """The corpus the issue asked for: at least 100 cases, each with a class and something asserted."""
    assert len(CASES) >= 100, f"only {len(CASES)} hostile cases"
    for c in CASES:
        assert (c.argv is None) != (c.call is None), f"{c.name}: give exactly one of argv and call"
        assert c.expect or c.check or c.raises, f"{c.name}: asserts nothing"


def _fmt(s: str, tmp: Path) -> str:
    return s.replace("{tmp}", str(tmp))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_case(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.skip_if is not None and (why := case.skip_if()):
        pytest.skip(why)
    root = tmp_path / "case"
    root.mkdir()
    case.setup(root)
    before = snapshot(root, case.outputs)
    for k, v in case.env.items():
        monkeypatch.setenv(k, _fmt(v, root))
    if case.argv is not None:
        if case.cwd is not None:
            monkeypatch.chdir(root / case.cwd)
        result = CliRunner().invoke(main, case.argv(root), catch_exceptions=True)
        out = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            tb = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"uncaught {type(result.exception).__name__}; output:\n{out}\n{tb}")
        assert "Traceback" not in out, out
        assert result.exit_code == case.exit_code, f"exit {result.exit_code}, expected {case.exit_code}:\n{out}"
        for s in case.expect:
            assert _fmt(s, root) in out, f"{_fmt(s, root)!r} not in output:\n{out}"
    else:
        assert case.call is not None
        if case.raises is not None:
            with pytest.raises(case.raises) as info:
                case.call(root)
            msg = str(info.value)
            for s in case.expect:
                assert _fmt(s, root) in msg, f"{_fmt(s, root)!r} not in message: {msg!r}"
        else:
            res = case.call(root)
            assert case.check is not None and case.check(res), f"check failed on {res!r}"
    monkeypatch.chdir(tmp_path)  # restored after the test (a bare chdir leaked into later tests)
    after = snapshot(root, case.outputs)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"files outside the command's outputs changed: {changed}"
