"""One line of progress that updates in place while a person waits, and ends as one summary line.

In a Jupyter kernel the line is a display that is updated (so a notebook's committed output keeps
only the summary, never an epoch-by-epoch log); on a terminal it is rewritten with a carriage
return; in a log (CI, a file) it becomes a plain line at most every `log_every` seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from utils.course.checks import positive_float


def _in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (which can update a display in place)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    from IPython import get_ipython

    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class LiveLine:
    """A line of text shown where it runs (Jupyter display, terminal, log) and replaced by `update`, then `close`."""

    def __init__(self, *, min_interval: float = 0.5, log_every: float = 60.0, stream: TextIO | None = None):
        self.min_interval = positive_float(min_interval, "min_interval")
        self.log_every = positive_float(log_every, "log_every")
        self.stream = stream
        self.kernel = stream is None and _in_kernel()
        self._handle = None
        self._shown = float("-inf")     # when the line was last redrawn
        self._logged = time.monotonic()  # a log gets its first line after log_every seconds, not at once
        self._width = 0

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def _terminal(self) -> bool:
        isatty = getattr(self._out, "isatty", None)
        return bool(isatty and isatty())

    @property
    def in_place(self) -> bool:
        """Whether the line is redrawn in place (Jupyter, a terminal) rather than logged."""
        return self.kernel or self._terminal()

    def due(self) -> bool:
        """Whether an update now would be drawn (min_interval has passed): lets a caller skip building the text."""
        return time.monotonic() - self._shown >= self.min_interval

    def update(self, text: str, force: bool = False) -> None:
        """Show text in place of the line (at most every min_interval seconds unless force)."""
        if not force and not self.due():
            return
        now = time.monotonic()
        self._shown = now
        if self.kernel:
            from IPython.display import display

            if self._handle is None:
                self._handle = display({"text/plain": text}, raw=True, display_id=True)
            else:
                self._handle.update({"text/plain": text}, raw=True)
        elif self._terminal():
            self._out.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self._out.flush()
        elif force or now - self._logged >= self.log_every:
            self._logged = now
            print(text, file=self._out, flush=True)

    def clear(self) -> None:
        """Remove the live line without a summary (on a terminal; a display or a log keeps what it showed)."""
        if self._terminal() and self._width:
            self._out.write("\r" + " " * self._width + "\r")
            self._out.flush()
        self._handle, self._width = None, 0

    def close(self, text: str) -> None:
        """End the line with its summary: it replaces the live line (Jupyter, terminal) or is printed (log)."""
        if self.kernel and self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
        elif self._terminal():
            self._out.write("\r" + text.ljust(self._width) + "\n")
            self._out.flush()
        else:
            print(text, file=self._out, flush=True)
        self._handle, self._width = None, 0


def duration(seconds: float) -> str:
    """Seconds in words a person reads at a glance: '42 s', '7 min 05 s', '1 h 02 min'."""
    s = round(max(float(seconds), 0.0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
