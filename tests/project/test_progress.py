"""Progress bars of long loops: on the terminal (the process's original stderr) only, never in the
step's log (``sys.stderr`` of a rule script), off when that is not a terminal or MLMPIPE_PROGRESS=0."""

import io
import sys

from mlmpipe.progress import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_goes_to_the_terminal_and_not_the_log(monkeypatch):
    monkeypatch.delenv("MLMPIPE_PROGRESS", raising=False)
    term, log = _Tty(), io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", term)
    monkeypatch.setattr(sys, "stderr", log)  # what a rule script does: stderr -> logs/<rule>.log
    assert list(progress(range(5), "imputation chains")) == [0, 1, 2, 3, 4]
    assert "imputation chains" in term.getvalue() and "0/5" in term.getvalue()
    assert log.getvalue() == ""


def test_no_bar_without_a_terminal_or_when_turned_off(monkeypatch):
    monkeypatch.delenv("MLMPIPE_PROGRESS", raising=False)
    plain = io.StringIO()  # CI output, a cluster job's file
    assert list(progress(iter("abc"), "bootstrap batch 1", stream=plain)) == ["a", "b", "c"]
    assert plain.getvalue() == ""
    monkeypatch.setenv("MLMPIPE_PROGRESS", "0")
    term = _Tty()
    assert list(progress(range(3), "x", stream=term)) == [0, 1, 2]
    assert term.getvalue() == ""
    monkeypatch.setenv("MLMPIPE_PROGRESS", "1")
    forced = io.StringIO()
    assert list(progress(range(3), "forced", stream=forced)) == [0, 1, 2]
    assert "forced" in forced.getvalue()
