"""Show the source of a utils function in a notebook, highlighted, so that code is written once."""

from __future__ import annotations

import inspect
from typing import Any


def source_of(obj: Any) -> str:
    """The source code of a function, class or module."""
    try:
        return inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise TypeError(f"obj={obj!r}: expected a function, class or module defined in Python source") from err


def show_source(obj: Any) -> None:
    """Display obj's source as a highlighted Python block (Markdown in Jupyter and on GitHub, text elsewhere)."""
    code = source_of(obj)
    where = f"{obj.__module__}.{obj.__qualname__}" if hasattr(obj, "__qualname__") else obj.__name__
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None  # noqa: N806
    if get_ipython is None or get_ipython() is None:
        print(f"# {where}\n{code}")
        return
    display(Markdown(f"`{where}`\n\n```python\n{code.rstrip()}\n```"))
