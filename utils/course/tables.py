"""Result tables in notebooks: Markdown rendered in Jupyter (and on GitHub), plain text elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np

from utils.course.checks import not_empty


def _cells(value: object, name: str) -> list:
    """value as a list of cells, refusing a string (a sequence of characters, not of cells)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name}={value!r}: expected a list of cells")
    return list(value)


def _escaped(text: str) -> str:
    """A cell's text with '|' escaped, so that it cannot split the cell in two."""
    return text.replace("|", r"\|")


def markdown_table(rows: Sequence[Sequence[object]], columns: Sequence[str], floatfmt: str = ".2f") -> str:
    """A Markdown table; floats are formatted with floatfmt, numbers right-aligned (a column of numbers stays
    right-aligned where some of its cells are left empty, "")."""
    columns = _cells(columns, "columns")
    not_empty(columns, "columns", note="expected at least one column name")
    rows = [_cells(r, f"rows[{i}]") for i, r in enumerate(rows)]  # a generator is read once, here
    try:
        format(1.0, floatfmt)
    except (TypeError, ValueError) as err:
        raise ValueError(f"floatfmt={floatfmt!r}: expected a float format such as '.2f' ({err})") from None
    if any(len(r) != len(columns) for r in rows):
        bad = next(r for r in rows if len(r) != len(columns))
        raise ValueError(f"row {list(bad)!r} has {len(bad)} cells: expected {len(columns)} (one per column)")

    def cell(v: object) -> str:
        return _escaped(format(v, floatfmt) if isinstance(v, Real) and not isinstance(v, (bool, int)) else str(v))

    numeric = [any(isinstance(r[j], Real) for r in rows) and all(isinstance(r[j], Real) or r[j] == "" for r in rows)
               for j in range(len(columns))]
    lines = ["| " + " | ".join(_escaped(str(c)) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def show_table(rows: Sequence[Sequence[object]], columns: Sequence[str], floatfmt: str = ".2f") -> None:
    """Display markdown_table(...) as Markdown in Jupyter, print it elsewhere."""
    text = markdown_table(rows, columns, floatfmt)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))
