"""Slides: every cell's reveal.js role (`slideshow.slide_type`), and decks built offline with nbconvert.

The roles follow the lecture: a `#`/`##` heading opens a slide, every other step (a paragraph and the code under
it) a sub-slide below it; an answer is a sub-slide after its question; the setup, parameters and results-recording
cells are plumbing and skipped. Decks load reveal.js and MathJax from copies that the course's own install
provides (sphinx-revealjs, jupyter-server-mathjax), never from a CDN, and embed their figures.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
SKIP_TAGS = ("parameters", "injected-parameters")
# a code cell whose source matches is plumbing, not lecture: the setup cell and the results cell
PLUMBING = re.compile(r"\A# Setup:|^\s*record\(", re.M)
# the one configuration jupyter-server-mathjax ships (config/TeX-AMS-MML_HTMLorMML-full.js), relative to a page,
# then the course's own (MATHJAX_FONTS, written beside it as config/local/course.js)
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/course"
# MathJax 2 as jupyter-server-mathjax ships it has the STIX-Web fonts, not the TeX ones its configuration asks
# for: without this, formulas fall back to the system's fonts (upright variables, accents a line above their
# letter, "Math Processing Error" where a glyph is missing).
MATHJAX_FONTS = """MathJax.Hub.Config({
    "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
    SVG: {font: "STIX-Web"}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/course.js");
"""
HEADING = re.compile(r"\A(#{1,2}) \S")
RENDERED_HEADING = re.compile(r"\A\s*(display\()?Markdown\(f?(\"\"\"|''')#{1,2} ")


def is_solution(cell) -> bool:
    """Whether `cell` is an answer (tagged `solution`)."""
    return "solution" in cell.get("metadata", {}).get("tags", [])


def slide_type(cell, previous: str | None, previous_cell=None, next_cell=None) -> str:
    """The reveal.js role of `cell`, given the role and the cell before it and the cell after it."""
    source, tags = cell.get("source", ""), cell.get("metadata", {}).get("tags", [])
    if previous is None:
        return "slide"  # the title
    if cell["cell_type"] == "code" and (PLUMBING.search(source) or any(t in tags for t in SKIP_TAGS)):
        return "skip"
    if cell["cell_type"] == "markdown" and re.fullmatch(r"#+ [^\n]*\s*", source) and next_cell is not None \
            and next_cell["cell_type"] == "code" and PLUMBING.search(next_cell.get("source", "")):
        return "skip"  # a bare heading over the plumbing it introduces ("## Results")
    if is_solution(cell):
        return "-" if previous_cell is not None and is_solution(previous_cell) else "subslide"
    if HEADING.match(source) if cell["cell_type"] == "markdown" else RENDERED_HEADING.match(source):
        return "slide"
    if cell["cell_type"] == "markdown":
        return "subslide"
    # code: under the paragraph that introduces it, or a step of its own after other code
    return "-" if previous_cell is not None and previous_cell["cell_type"] == "markdown" \
        and previous not in ("skip",) else "subslide"


def tag_slides(nb, keep: bool = True) -> int:
    """Give every cell of `nb` a `slideshow.slide_type`; with keep=True a role set by hand stays. Returns how
    many cells got one."""
    changed, previous, previous_cell = 0, None, None
    for i, cell in enumerate(nb["cells"]):
        show = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        given = show.get("slide_type")
        if given is not None and given not in SLIDE_TYPES:
            raise ValueError(f"cell {i}: slide_type {given!r}; expected one of {SLIDE_TYPES}")
        if given is None or not keep:
            next_cell = nb["cells"][i + 1] if i + 1 < len(nb["cells"]) else None
            role = slide_type(cell, previous, previous_cell, next_cell)
            changed += role != given
            show["slide_type"] = role
        previous = show["slide_type"]
        if previous != "skip":
            previous_cell = cell
    return changed


def templates() -> Path:
    """The course's nbconvert templates: nbconvert's reveal and lab templates with every CDN address taken out."""
    return Path(__file__).resolve().parent / "templates"


def reveal_js() -> Path:
    """The reveal.js that sphinx-revealjs ships (dist/ and plugin/), or an error that says how to get it."""
    try:
        import sphinx_revealjs
    except ImportError:
        raise ImportError("building slides needs reveal.js, which the course takes from sphinx-revealjs: "
                          "pip install -r requirements.txt") from None
    path = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (path / "dist" / "reveal.js").is_file():
        raise FileNotFoundError(f"{path}: expected reveal.js's dist/reveal.js in sphinx-revealjs; its layout changed")
    return path


def mathjax() -> Path:
    """The MathJax 2 that jupyter-server-mathjax ships (MathJax.js and its fonts)."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise ImportError("rendering formulas offline needs jupyter-server-mathjax: "
                          "pip install -r requirements.txt") from None
    path = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (path / "MathJax.js").is_file():
        raise FileNotFoundError(f"{path}: expected MathJax.js in jupyter-server-mathjax; its layout changed")
    return path


def copy_assets(out: Path, reveal: bool) -> None:
    """Put MathJax (and reveal.js) beside the pages in `out`, once."""
    assets = [("mathjax", mathjax())] + ([("reveal.js", reveal_js())] if reveal else [])
    for name, source in assets:
        if not (out / name).exists():
            shutil.copytree(source, out / name)
    local = out / "mathjax" / "config" / "local"
    local.mkdir(parents=True, exist_ok=True)
    (local / "course.js").write_text(MATHJAX_FONTS, encoding="utf-8")


BADGE_IMAGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")


def offline_links(nb) -> None:
    """Make `nb` load nothing from the network once built: the "Open in Colab" badge (an image on
    colab.research.google.com) becomes a text link, and animation players lose their Font Awesome stylesheet."""
    from utils.viz.tracks import without_font_awesome

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = BADGE_IMAGE.sub(r"[Open in Colab](\1)", cell.source)
        for output in cell.get("outputs", []):
            page = output.get("data", {}).get("text/html")
            if page is not None:
                page = "".join(page) if isinstance(page, list) else page
                output["data"]["text/html"] = without_font_awesome(page)


def presentable(nb) -> None:
    """Strip what a deck should not show: nbval's markers in code, the code of a cell that only renders a
    measured sentence (its output, the sentence, stays), and the badge's remote image."""
    offline_links(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = "\n".join(line for line in cell.source.splitlines() if line.strip() != "# NBVAL_CHECK_OUTPUT")
        outputs = cell.get("outputs", [])
        if outputs and all("text/markdown" in o.get("data", {}) for o in outputs):
            cell.metadata.setdefault("transient", {})["remove_source"] = True
            cell.source = ""


def build_decks(names: list[str], out: Path, answers: bool = True) -> list[Path]:
    """Write one reveal.js deck per notebook in `names` (from notebooks/) into `out`; return their paths.

    answers=False leaves out every answer (the student edition's cut), for a class that has not done the
    exercises yet; each question is then followed by the next one.
    """
    import nbformat
    from nbconvert import SlidesExporter

    from utils.course.deck_layout import SCREEN_HEIGHT, SCREEN_WIDTH, fit_slides
    from utils.course.editions import answer_cells
    from utils.course.runner import notebooks_dir

    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out, reveal=True)
    exporter = SlidesExporter(template_name="offline_reveal", extra_template_basedirs=[str(templates())],
                              reveal_url_prefix="reveal.js", reveal_scroll=True, reveal_theme="white",
                              reveal_transition="none", mathjax_url=MATHJAX_URL,
                              reveal_width=str(SCREEN_WIDTH), reveal_height=str(SCREEN_HEIGHT),  # a projector
                              exclude_input_prompt=True, exclude_output_prompt=True)
    written = []
    for name in names:
        nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
        missing = [i for i, c in enumerate(nb.cells) if "slide_type" not in c.metadata.get("slideshow", {})]
        if missing:
            raise ValueError(f"{name}: cells {missing} have no slide_type; run the notebook with the course runner "
                             "or `python -m utils.course normalise`")
        if not answers:
            cut = answer_cells(nb)
            nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in cut]
        presentable(nb)
        fit_slides(nb)
        body, _ = exporter.from_notebook_node(nb)
        written.append(out / f"{name}.slides.html")
        written[-1].write_text(body, encoding="utf-8")
    return written
