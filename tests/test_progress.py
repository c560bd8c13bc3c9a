"""`rulerouter batch`'s progress: tqdm's bar on a terminal, one plain line per tenth elsewhere."""

from __future__ import annotations

import io

from rulerouter.cli.batch import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal, and shows what one would display."""

    def isatty(self) -> bool:
        return True

    def screen(self) -> list[str]:
        """The lines on screen: a carriage return goes back to column 0 and overwrites."""
        lines: list[str] = []
        line: list[str] = []
        column = 0
        for char in self.getvalue():
            if char == "\r":
                column = 0
            elif char == "\n":
                lines.append("".join(line))
                line, column = [], 0
            else:
                line[column:column + 1] = [char]
                column += 1
        return lines + ["".join(line)] if line else lines


def test_on_a_terminal_the_bar_is_redrawn_a_few_times_not_once_per_item() -> None:
    terminal = Terminal()
    progress = Progress(10_000, terminal)
    for number in range(10_000):
        progress.update(number % 10 != 0)
    progress.finish()
    assert terminal.getvalue().count("\r") < 100  # at most ten a second, however fast items finish
    last = terminal.screen()[-1].rstrip()
    assert "10000/10000" in last and last.endswith("ok 9000, failed 1000]"), last


def test_a_shorter_status_leaves_nothing_of_the_longer_one_behind() -> None:
    terminal = Terminal()
    progress = Progress(3, terminal)
    progress._bar.set_postfix_str("x" * 60)
    progress._bar.refresh()
    for _ in range(3):
        progress.update(True)
    progress.finish()
    assert "x" not in terminal.screen()[-1]


def test_elsewhere_one_plain_line_per_tenth() -> None:
    log = io.StringIO()
    progress = Progress(1_000, log)
    for number in range(1_000):
        progress.update(number != 500)
    progress.finish()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11
    assert lines[-1].startswith("[##############################] 1000/1000  ok 999  failed 1  ")
