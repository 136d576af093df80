"""A progress bar for management commands: one line per stage, redrawn in place on a
terminal, a line every few seconds in a log."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.management.base import OutputWrapper

BAR_WIDTH = 30


def _plain(text: str) -> str:
    # stderr is styled as errors on a terminal; progress is not an error.
    return text


class ProgressBar:
    """Call it with (stage, done, total); ``label`` words a stage for the reader."""

    def __init__(self, out: OutputWrapper, *, label: Callable[[str], str] = str) -> None:
        self.out = out
        self.label = label
        self.interactive = out.isatty()
        self.stage = ""
        self.last_draw = 0.0
        self.line = ""  # what the current stage looks like now
        self.drawn = ""  # what was last written

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.finish()
            self.stage = stage
            self.last_draw = 0.0
        self.line = self.render(self.label(stage), done, total)
        interval = 0.1 if self.interactive else 5.0
        finished = total is not None and done >= total
        if now - self.last_draw >= interval or (finished and self.interactive):
            self.last_draw = now
            self.draw()

    def draw(self) -> None:
        if self.line == self.drawn:
            return
        self.drawn = self.line
        if self.interactive:
            self.out.write("\r" + self.line.ljust(78), style_func=_plain, ending="")
        else:
            self.out.write(self.line, style_func=_plain)
        self.out.flush()

    @staticmethod
    def render(label: str, done: int, total: int | None) -> str:
        if not total:
            return f"{label:<12} {done:>9,}"
        share = min(1.0, done / total)
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"{label:<12} [{bar}] {share:4.0%}  {done:,} / {total:,}"

    def finish(self) -> None:
        """End the stage's line, showing where the stage ended."""
        if not self.line:
            return
        self.draw()
        if self.interactive:
            self.out.write("", style_func=_plain)
        self.line = self.drawn = ""
