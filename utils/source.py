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
    """Display obj's source highlighted (HTML in Jupyter, plain text elsewhere)."""
    code = source_of(obj)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        print(code)
        return
    if get_ipython() is None:
        print(code)
        return
    formatter = HtmlFormatter(style="default", noclasses=True)
    where = f"{obj.__module__}.{obj.__qualname__}" if hasattr(obj, "__qualname__") else obj.__name__
    display(HTML(f"<p><code>{where}</code></p>" + highlight(code, PythonLexer(), formatter)))
