"""Editions of the course built from the committed notebooks, outside the committed tree (.scratch/ by default):
the student edition (no answers) and a static HTML site (every notebook with its outputs, and RESULTS.md).

Decks are in `utils.course.slides`; `python -m utils.course slides | student | site` builds all three.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from utils.course.paths import repo_root
from utils.course.slides import MATHJAX_URL, copy_assets, is_solution, offline_links, templates

# a "Check yourself" question: "1. ..." (the first under its heading) or "## Check yourself\n\n1. ..."
QUESTION = re.compile(r"\A(## Check yourself\s+)?\d+\.\s", re.S)


def is_exercise(cell) -> bool:
    """Whether `cell` is a student's exercise (tagged `exercise`), whose outputs the student edition clears."""
    return "exercise" in cell.get("metadata", {}).get("tags", [])


def answer_cells(nb) -> set[int]:
    """Indices of the cells that belong to an answer: those tagged `solution`, and the cells between two of
    them that are neither a question nor a heading (a lead-in such as "The check: ..." that introduces the
    answer's next step)."""
    tagged = [i for i, cell in enumerate(nb.cells) if is_solution(cell)]
    inside = set(tagged)
    for a, b in zip(tagged, tagged[1:]):
        between = range(a + 1, b)
        if all(nb.cells[i].cell_type == "markdown" and not QUESTION.match(nb.cells[i].source)
               and not nb.cells[i].source.lstrip().startswith("#") for i in between):
            inside.update(between)
    return inside


def student_notebook(nb):
    """`nb` without its answers (`answer_cells`), an empty cell tagged `exercise` in the place of each, and with
    its exercises' outputs cleared; a new object."""
    import copy

    import nbformat

    nb = copy.deepcopy(nb)
    answers, cells = answer_cells(nb), []
    for i, cell in enumerate(nb.cells):
        if i in answers:
            if i - 1 not in answers:                   # where an answer starts: a place for the student's own
                place = nbformat.v4.new_code_cell("", metadata={"tags": ["exercise"]})
                cells.append(place)
            continue
        if cell.cell_type == "code" and is_exercise(cell):
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def write_student_edition(names: list[str], out: Path) -> list[Path]:
    """Write the student edition of each notebook in `names` into `out`/notebooks; return the paths."""
    import nbformat

    from utils.course.runner import notebooks_dir

    folder = out / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        nb = student_notebook(nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4))
        written.append(folder / f"{name}.ipynb")
        nbformat.write(nb, written[-1])
    return written


def title(nb, name: str) -> str:
    """The notebook's title: its first heading, without the leading '# '."""
    first = nb.cells[0].source if nb.cells else ""
    match = re.match(r"#\s+(.+)", first)
    return match.group(1).strip() if match else name


def markdown_page(text: str, heading: str) -> str:
    """A Markdown document as a standalone HTML page of the site."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(heading)}</title>"
            f"<style>{SITE_CSS}</style></head><body><main>\n<nav><a href=\"index.html\">all notebooks</a></nav>\n"
            f"{markdown2html_mistune(text)}\n</main></body></html>\n")


SITE_CSS = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
            "li{margin:.3rem 0}code{background:#f4f4f4;padding:0 .2rem}")


def build_site(names: list[str], out: Path) -> list[Path]:
    """Render the committed notebooks in `names` (with their outputs), RESULTS.md and an index in lecture order
    into `out` as a static site that opens offline; return the pages written, index first."""
    import nbformat
    from nbconvert import HTMLExporter

    from utils.course.runner import COURSE_MAP, notebooks_dir

    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out, reveal=False)
    exporter = HTMLExporter(template_name="offline_lab", extra_template_basedirs=[str(templates())],
                            mathjax_url=MATHJAX_URL)
    topics = dict(COURSE_MAP)
    items, pages = [], []
    for name in names:
        nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
        offline_links(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title(nb, name)}})
        pages.append(out / f"{name}.html")
        pages[-1].write_text(body, encoding="utf-8")
        items.append(f'<li><a href="{name}.html">{html.escape(title(nb, name))}</a> — {html.escape(topics[name])}</li>')
    results = repo_root() / "RESULTS.md"
    (out / "results.html").write_text(markdown_page(results.read_text(encoding="utf-8"), "Results"), encoding="utf-8")
    index = out / "index.html"
    index.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>CNNs beyond classification</title>"
        f"<style>{SITE_CSS}</style></head><body><main>\n<h1>CNNs beyond classification</h1>\n"
        "<p>The course's notebooks in lecture order, with the outputs of their full-mode runs.</p>\n"
        f"<ol start=\"0\" id=\"notebooks\">\n{chr(10).join(items)}\n</ol>\n"
        "<p><a href=\"results.html\">Results</a>: every notebook's headline figures.</p>\n</main></body></html>\n",
        encoding="utf-8")
    return [index, *pages, out / "results.html"]
