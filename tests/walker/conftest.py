"""Report what the walk covered at the end of the run."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter, config) -> None:
    # Imported here, when the run ends: the conftest must not import a test module before pytest collects it.
    from tests.walker.test_no_500 import WALKED

    line = config.stash.get(WALKED, None)
    if line:
        terminalreporter.write_line(line)
