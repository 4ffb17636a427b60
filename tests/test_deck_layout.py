"""Decks fitted to a projector at build time (utils.course.deck_layout): what moves to a sub-slide, and what stays."""

import base64
import io
import struct
import zlib

import nbformat
import pytest

from utils.course import deck_layout
from utils.course.deck_layout import SCREEN_HEIGHT, fit_slides, png_size, split_markdown


def png(width: int, height: int) -> str:
    """A minimal valid PNG header (what png_size reads) of the given size, base64."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunk).decode()


def figure(width: int = 800, height: int = 400):
    return nbformat.v4.new_output("display_data", data={"image/png": png(width, height), "text/plain": "<Figure>"})


def cell(kind: str, source: str, role: str, outputs=()):
    new = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
    new.metadata["slideshow"] = {"slide_type": role}
    if kind == "code":
        new.outputs = list(outputs)
    return new


def roles(nb) -> list[str]:
    return [c.metadata["slideshow"]["slide_type"] for c in nb.cells]


def test_png_size_reads_the_header_and_refuses_other_data():
    assert png_size(png(640, 480)) == (640, 480)
    assert png_size(base64.b64encode(b"GIF89a" + bytes(40)).decode()) is None
    assert png_size("not base64 at all!") is None


def test_a_matplotlib_figure_is_measured_as_it_is_shown():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 4), dpi=100)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    assert png_size(data) == (800, 400)
    shown = {"data": {"image/png": data}, "metadata": {"image/png": {"width": 400}}}   # a retina figure, half size
    assert deck_layout.figure_height(shown) == 200
    assert deck_layout.figure_height({"data": {"image/png": png(4000, 4000)}}) == deck_layout.FIGURE_MAX_HEIGHT


def test_a_figure_under_long_code_opens_a_sub_slide_of_its_own():
    nb = nbformat.v4.new_notebook()
    long_code = "\n".join(f"x{i} = {i}" for i in range(20))                   # 20 lines: about 520 px
    nb.cells = [cell("md", "## A slide", "slide"), cell("md", "A step.", "subslide"),
                cell("code", long_code, "-", [nbformat.v4.new_output("stream", text="done\n"), figure()]),
                cell("md", "## Next", "slide")]
    assert fit_slides(nb) == 1
    assert roles(nb) == ["slide", "subslide", "-", "subslide", "slide"]
    code, moved = nb.cells[2], nb.cells[3]
    assert [o["output_type"] for o in code.outputs] == ["stream"]             # the text stays under its code
    assert [o["output_type"] for o in moved.outputs] == ["display_data"]      # the figure opens the sub-slide
    assert moved.source == "" and moved.metadata["transient"]["remove_source"]


def test_a_figure_that_fits_stays_where_it_is():
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell("md", "## A slide", "slide"), cell("code", "plot()", "-", [figure(800, 300)])]
    assert fit_slides(nb) == 0 and roles(nb) == ["slide", "-"]
    alone = nbformat.v4.new_notebook()
    alone.cells = [cell("code", "", "subslide", [figure(800, 3000)])]             # taller than the screen, but alone
    assert fit_slides(alone) == 0


def test_a_long_answer_becomes_one_step_per_sub_slide_and_a_title_splits_before_you_will_learn():
    steps = "\n\n".join(f"{k}. " + "A step of the derivation. " * 20 for k in range(1, 7))
    answer = cell("md", steps, "subslide")
    parts = split_markdown(answer)
    assert len(parts) > 1 and "\n\n".join(p.source for p in parts) == steps            # nothing lost or reordered
    assert [p.metadata["slideshow"]["slide_type"] for p in parts] == ["subslide"] * len(parts)
    assert all(deck_layout.markdown_height(p.source) <= SCREEN_HEIGHT for p in parts)
    title = cell("md", "# 10 · Title\n\nIntroduction.\n\n**You will learn**\n\n- one\n- two", "slide")
    first, second = split_markdown(title)
    assert first.source == "# 10 · Title\n\nIntroduction." and second.source.startswith("**You will learn**")
    assert (first.metadata["slideshow"]["slide_type"], second.metadata["slideshow"]["slide_type"]) == \
        ("slide", "subslide")


def test_every_title_slide_is_the_introduction_then_what_you_will_learn():
    nb = nbformat.v4.new_notebook()
    title = "# 01 · Title\n\nShort.\n\n**You will learn**\n- one"
    nb.cells = [cell("md", title, "slide"), cell("code", "x = 1", "-")]
    assert fit_slides(nb) == 1 and roles(nb) == ["slide", "subslide", "-"]


def test_a_section_that_starts_mid_cell_opens_its_own_slide():
    nb = nbformat.v4.new_notebook()
    text = ("The end of one section.\n\n## U-Net: a multiresolution autoencoder\n\nIts text.\n\n"
            "```python\n# a comment\n```")
    nb.cells = [cell("md", text, "subslide"), cell("code", "show_source(unet)", "-")]
    assert fit_slides(nb) == 1 and roles(nb) == ["subslide", "slide", "-"]
    assert nb.cells[0].source == "The end of one section."
    assert nb.cells[1].source.startswith("## U-Net") and nb.cells[1].source.endswith("# a comment\n```")


def test_a_title_whose_introduction_alone_is_too_tall_splits_it_too():
    intro = "\n\n".join("An introduction paragraph. " * 25 for _ in range(4))
    parts = split_markdown(cell("md", f"# 08 · Title\n\n{intro}\n\n**You will learn**\n- one", "slide"))
    assert len(parts) >= 3 and parts[-1].source.startswith("**You will learn**")
    assert all(deck_layout.markdown_height(p.source) <= SCREEN_HEIGHT for p in parts)


def test_display_math_that_spans_blank_lines_is_never_cut():
    block = "$$\na = b\n\n+ c\n$$"
    text = "\n\n".join(["Intro " * 60] * 6 + [block] + ["Outro " * 60] * 6)
    parts = split_markdown(cell("md", text, "subslide"))
    assert any(block in p.source for p in parts)


@pytest.mark.parametrize("output, height", [
    ({"output_type": "stream", "text": "a\nb\nc"}, 3 * deck_layout.CODE_LINE + deck_layout.BLOCK_GAP),
    ({"output_type": "display_data", "data": {"text/markdown": "# Big"}}, deck_layout.HEADING),
    ({"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}}, deck_layout.FIGURE_MAX_HEIGHT),
])
def test_output_heights(output, height):
    assert deck_layout.output_height(output) == height
