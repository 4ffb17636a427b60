"""Result tables in notebooks: Markdown rendered in Jupyter (and on GitHub), plain text elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real


def markdown_table(rows: Sequence[Sequence[object]], columns: Sequence[str], floatfmt: str = ".2f") -> str:
    """A Markdown table; floats are formatted with floatfmt, numbers right-aligned."""
    if any(len(r) != len(columns) for r in rows):
        bad = next(r for r in rows if len(r) != len(columns))
        raise ValueError(f"row {list(bad)!r} has {len(bad)} cells: expected {len(columns)} (one per column)")

    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, Real) and not isinstance(v, (bool, int)) else str(v)

    numeric = [bool(rows) and all(isinstance(r[j], Real) for r in rows) for j in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |",
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
