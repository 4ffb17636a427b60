"""Decks that fit a projector (1280 x 720): the build estimates each slide's height and moves what would fall off it.

A notebook's slide roles (`utils.course.slides`) put a paragraph, its code and the code's figure on one slide;
on a projector the figure, the point of the slide, then starts below the screen. At build time, and only in
the deck (the notebook is unchanged), `fit_slides`:

- moves an output (a figure, a table, a printed result) that would not fit whole under what precedes it, with
  the outputs after it, onto a sub-slide of their own right after the code, so a figure is on screen when that
  sub-slide opens;
- opens a new slide where a markdown cell starts a new section mid-cell ("... text.\n\n## Next"), and splits a
  markdown cell taller than the screen at its paragraphs, each part a sub-slide (a long answer
  becomes one step per sub-slide), and a slide's title cell always before its "You will learn" list (the
  introduction, then what the notebook teaches).

Heights are estimates in CSS pixels at the deck's type sizes (the template's stylesheet); the browser test
(tests/test_editions.py) measures the built decks themselves.
"""

from __future__ import annotations

import base64
import math
import re
import struct

SCREEN_HEIGHT, SCREEN_WIDTH = 720, 1280
TEXT_LINE, CODE_LINE, HEADING = 33, 25, 70       # px: a line of 22 px prose, of 20 px code, a heading
TEXT_CHARS = 95                                    # characters of prose in a line of the slide's width
FIGURE_MAX_HEIGHT = 640                            # px: the template's max-height for a figure
BLOCK_GAP = 24                                     # px between blocks (paragraphs, code, outputs)
LEARN = re.compile(r"^(\*\*|#+ )?You will learn", re.M)


def png_size(data: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG from its header, or None if it is not one."""
    try:
        head = base64.b64decode(data[:44])
    except ValueError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def markdown_height(text: str) -> int:
    """Estimated height of rendered markdown: headings, wrapped prose lines, display math, gaps."""
    height = 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            height += BLOCK_GAP // 2
        elif stripped.startswith("#"):
            height += HEADING
        elif stripped.startswith("$$"):
            height += 2 * TEXT_LINE
        else:
            height += TEXT_LINE * max(1, math.ceil(len(stripped) / TEXT_CHARS))
    return height


def figure_height(output: dict) -> int | None:
    """Displayed height of an image output (scaled to the slide's width and the figure's max-height)."""
    data = output.get("data", {})
    png = data.get("image/png")
    if png is None:
        return FIGURE_MAX_HEIGHT if "image/svg+xml" in data else None
    size = png_size("".join(png) if isinstance(png, list) else png)
    if size is None:
        return FIGURE_MAX_HEIGHT
    width, height = size
    width_px = output.get("metadata", {}).get("image/png", {}).get("width", width)
    height = height * width_px / width if width else height       # a retina figure is shown at half its pixels
    scale = min(1.0, (SCREEN_WIDTH - 100) / max(width_px, 1))
    return int(min(height * scale, FIGURE_MAX_HEIGHT))


def output_height(output: dict) -> int:
    """Estimated height of one output: a figure, a measured sentence (markdown), or text."""
    figure = figure_height(output)
    if figure is not None:
        return figure
    data = output.get("data", {})
    if "text/markdown" in data:
        text = data["text/markdown"]
        return markdown_height("".join(text) if isinstance(text, list) else text)
    text = output.get("text") or data.get("text/plain") or ""
    lines = ("".join(text) if isinstance(text, list) else text).count("\n") + 1
    return CODE_LINE * min(lines, 30) + BLOCK_GAP


def code_height(cell) -> int:
    """Estimated height of a code cell's source (0 when the deck hides it)."""
    if cell.get("metadata", {}).get("transient", {}).get("remove_source") or not cell.get("source", "").strip():
        return 0
    return CODE_LINE * (cell.source.count("\n") + 1) + BLOCK_GAP


def _role(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def _with_role(cell, role: str, suffix: str):
    """A copy of `cell` with the slide role `role`, its id made unique with `suffix` (the part it holds)."""
    import copy

    new = copy.deepcopy(cell)
    new.metadata.setdefault("slideshow", {})["slide_type"] = role
    if "id" in new:
        new["id"] = f"{new['id']}-{suffix}"
    return new


def _toggles_block(text: str) -> bool:
    """True if text opens or closes a display-math ($$) or code (```) block: an odd count of the two markers."""
    return (text.count("$$") + text.count("```")) % 2 == 1


def split_markdown(cell, limit: int = SCREEN_HEIGHT) -> list:
    """A markdown cell as one or more cells, each at most `limit` tall where its paragraphs allow: the first keeps
    the cell's role, the others are sub-slides. A title cell is cut before its "You will learn" list."""
    text = cell.source
    learn = LEARN.search(text)
    pieces = [text]
    if _role(cell) == "slide" and learn and learn.start() > 0:
        pieces = [text[:learn.start()].rstrip(), text[learn.start():]]
    parts: list[str] = []
    for piece in pieces:                           # the introduction and the list each split where too tall
        paragraphs, fenced = [], False
        for block in re.split(r"\n\s*\n", piece):
            if paragraphs and fenced:              # a $$ or ``` block that spans blank lines stays whole
                paragraphs[-1] += "\n\n" + block
            else:
                paragraphs.append(block)
            fenced ^= _toggles_block(block)
        current = ""
        for paragraph in paragraphs:
            candidate = f"{current}\n\n{paragraph}" if current else paragraph
            if current and markdown_height(candidate) > limit:
                parts.append(current)
                current = paragraph
            else:
                current = candidate
        parts.append(current)
    if len(parts) == 1:
        return [cell]
    cells = [_with_role(cell, _role(cell) if k == 0 else "subslide", f"part{k}") for k in range(len(parts))]
    for new, part in zip(cells, parts):
        new.source = part
    return cells


def split_at_headings(cell) -> list:
    """A markdown cell that ends one section and opens the next ("... text.\n\n## Next section") as two cells, the
    second a slide of its own, as the section's heading would make it in a cell of its own (`utils.course.slides`)."""
    pieces, fenced = [[]], False
    for line in cell.source.split("\n"):
        fenced ^= _toggles_block(line)
        if not fenced and re.match(r"#{1,2} \S", line) and any(x.strip() for x in pieces[-1]):
            pieces.append([])
        pieces[-1].append(line)
    if len(pieces) == 1:
        return [cell]
    cells = [_with_role(cell, _role(cell) if k == 0 else "slide", f"section{k}") for k in range(len(pieces))]
    for new, lines in zip(cells, pieces):
        new.source = "\n".join(lines).strip("\n")
    return cells


def fit_slides(nb) -> int:
    """Rearrange `nb` (a deck's copy of a notebook, roles set) so that each output starts, whole, on the screen of
    its (sub-)slide, and no markdown cell runs past the screen. Returns how many cells it added."""
    cells, y, added = [], 0, 0
    for cell in nb.cells:
        role = _role(cell)
        if role == "skip":
            cells.append(cell)
            continue
        if role in ("slide", "subslide"):
            y = 0
        if cell.cell_type == "markdown":
            parts = []
            for section in split_at_headings(cell):
                title = _role(section) == "slide" and LEARN.search(section.source) is not None
                tall = markdown_height(section.source) > SCREEN_HEIGHT
                parts.extend(split_markdown(section) if title or tall else [section])
            added += len(parts) - 1
            cells.extend(parts)
            y = (0 if len(parts) > 1 else y) + markdown_height(parts[-1].source) + BLOCK_GAP
            continue
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        y += code_height(cell)
        outputs = cell.get("outputs", [])
        for k, output in enumerate(outputs):
            height = output_height(output)
            if y > 0 and y + height > SCREEN_HEIGHT:   # this output and the rest open a sub-slide of their own
                moved = _with_role(cell, "subslide", "output")
                moved.source = ""
                moved.metadata.setdefault("transient", {})["remove_source"] = True
                moved.outputs, cell.outputs = outputs[k:], outputs[:k]
                cells.append(moved)
                added += 1
                y = sum(output_height(o) for o in moved.outputs)
                break
            y += height
    nb.cells = cells
    return added
