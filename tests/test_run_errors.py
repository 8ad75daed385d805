"""mlmpipe.run_errors: the failed jobs of a Snakemake log and the one-line error of a rule's log."""

from mlmpipe import run_errors
from mlmpipe.run_errors import error_line, failed_jobs, failure_lines, onerror

SNAKEMAKE_LOG = """\
[Fri Dec  4 17:11:52 2026]
Error in rule validate:
    message: None
    jobid: 0
    input: data/raw/d.csv
    output: reports/checks.json
    log: logs/validate.log (check log file(s) for error details)
[Fri Dec  4 17:11:53 2026]
Error in rule fit:
    jobid: 3
    log: logs/fit/m1/reml/fit.log, logs/fit/m1/reml/other.log (check log file(s) for error details)
Error in rule nolog:
    jobid: 4
Shutting down, this might take some time.
"""

TRACEBACK = """\
some progress line
Traceback (most recent call last):
  File "x.py", line 3, in <module>
    raise DataValidationError(message)
mlmpipe.errors.DataValidationError: outcome.name: column 'yy' is not in the data
"""


def test_failed_jobs_and_their_logs():
    assert failed_jobs(SNAKEMAKE_LOG) == [
        ("validate", ["logs/validate.log"]),
        ("fit", ["logs/fit/m1/reml/fit.log", "logs/fit/m1/reml/other.log"]),
        ("nolog", []),
    ]


def test_error_line_of_an_mlmpipe_error_a_library_error_and_no_traceback():
    assert error_line(TRACEBACK) == "outcome.name: column 'yy' is not in the data"
    lib = "Traceback (most recent call last):\n  File 'a'\nKeyError: 'cooks_d'\n"
    assert error_line(lib) == "unexpected KeyError: 'cooks_d'"
    chained = (
        TRACEBACK + "\nDuring handling of the above exception, another exception occurred:\n\n"
    )
    chained += "Traceback (most recent call last):\n  File 'b'\nValueError: bad\n"
    assert error_line(chained) == "unexpected ValueError: bad"
    assert error_line("R said: singular\n\n") == "R said: singular"
    assert error_line("") is None


def test_failure_lines_and_the_onerror_handler(tmp_path, capsys, monkeypatch):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "validate.log").write_text(TRACEBACK)
    log = tmp_path / "run.snakemake.log"
    log.write_text(SNAKEMAKE_LOG)
    lines = failure_lines(log, tmp_path)
    assert lines[0] == (
        "mlmpipe: validate: outcome.name: column 'yy' is not in the data (log: logs/validate.log)"
    )
    assert lines[1] == "mlmpipe: fit: failed without a message (log: logs/fit/m1/reml/fit.log)"
    assert lines[-1].startswith("mlmpipe: nolog: failed (the job has no log file")
    monkeypatch.delenv(run_errors.RELAY_ENV, raising=False)
    assert onerror([str(log)], tmp_path) == lines
    assert capsys.readouterr().err.splitlines() == lines
    monkeypatch.setenv(run_errors.RELAY_ENV, "1")  # mlmpipe run prints them itself
    assert onerror(str(log), tmp_path) == lines
    assert capsys.readouterr().err == ""


def test_report_failed_run_ignores_the_log_of_an_earlier_run(tmp_path, capsys):
    d = tmp_path / ".snakemake" / "log"
    d.mkdir(parents=True)
    (d / "old.snakemake.log").write_text(SNAKEMAKE_LOG)
    assert run_errors.report_failed_run(since=2e9, root=tmp_path) == []
    assert len(run_errors.report_failed_run(since=None, root=tmp_path)) == 4
    assert "mlmpipe: validate: failed without a message" in capsys.readouterr().err
