"""Terminal output (ANSI escapes, carriage returns) as safe HTML or clean plain text."""

from __future__ import annotations

import html
import re
from functools import lru_cache

# One escape sequence: CSI (SGR when the final byte is "m"), OSC, DCS/SOS/PM/APC, any other
# ESC sequence, or a lone ESC. OSC/DCS stop at a newline so an unterminated one cannot eat a log.
# The leading lookahead lets the engine skip plain text quickly.
_ESC_RE = re.compile(
    r"(?=[\x1b\x90-\x9f])(?:"
    r"(?:\x1b\[|\x9b)(?P<params>[0-?]*)(?P<inter>[ -/]*)(?P<final>[@-~])"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c\n]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?)"
)
_SGR_PARAMS_RE = re.compile(r"(?:\d{0,5}[;:])*\d{0,5}")  # bounded numbers: int() stays cheap
_ERASE_LINE_RE = re.compile(r"\x1b\[[012]?K")
_CTRL_TEXT_RE = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \r
_CTRL_HTML_RE = re.compile(r"[\x01-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t \n
_NUL = "\u2400"  # ␀

# 16-colour palette in mid tones that stay readable on light and dark backgrounds.
_PALETTE = (
    "#6e7681", "#e5534b", "#3fa34d", "#c69026", "#4a8fe7", "#b565d9", "#2aa1b3", "#9aa4ad",
    "#8b949e", "#f47067", "#57c75f", "#e0b23c", "#6cb6ff", "#d38ae6", "#39c5cf", "#c5ccd3",
)
# White foregrounds follow the theme's text colour so they stay visible on light themes.
_WHITE_FG = {7: "var(--jp-content-font-color1,#9aa4ad)", 15: "var(--jp-content-font-color0,#c5ccd3)"}
_CUBE = (0, 95, 135, 175, 215, 255)
_FLAGS = {1: "bold", 2: "dim", 3: "italic", 4: "underline"}
_FLAG_RESETS = {22: ("bold", "dim"), 23: ("italic",), 24: ("underline",)}
_FLAG_CSS = {
    "bold": "font-weight:bold",
    "dim": "opacity:.7",
    "italic": "font-style:italic",
    "underline": "text-decoration:underline",
}


def _has_escapes(text: str) -> bool:
    return "\x1b" in text or not text.isascii()  # C1 controls (\x9b...) are not ASCII


def strip_ansi(text: str) -> str:
    """Drop escape sequences and control characters (keeping tab, newline, CR); NUL becomes ␀."""
    if _has_escapes(text):
        text = _ESC_RE.sub("", text)
    return _CTRL_TEXT_RE.sub("", text.replace("\x00", _NUL))


def _cells(segment: str) -> tuple[list[str], str]:
    """Split into visible characters (each carrying the escapes before it) and trailing escapes."""
    cells: list[str] = []
    pending, pos = "", 0
    for m in _ESC_RE.finditer(segment):
        for ch in segment[pos : m.start()]:
            cells.append(pending + ch)
            pending = ""
        pending += m.group()
        pos = m.end()
    for ch in segment[pos:]:
        cells.append(pending + ch)
        pending = ""
    return cells, pending


def collapse_cr(line: str) -> str:
    """Collapse carriage-return rewrites (progress bars) to what a terminal would finally show."""
    end = "\n" if line.endswith("\n") else ""
    body = line[: len(line) - len(end)].rstrip("\r")
    if "\r" not in body:
        return body + end
    cells: list[str] = []
    tail = ""
    for segment in body.split("\r"):
        new, new_tail = _cells(segment)
        if len(new) >= len(cells) or _ERASE_LINE_RE.search(segment):
            cells, tail = new, new_tail
        elif new:
            new[-1] += new_tail
            cells = new + cells[len(new) :]
    return "".join(cells) + tail + end


def _color(codes: list[int], i: int) -> tuple[str | None, int]:
    """Parse an extended colour (5;n or 2;r;g;b) starting at codes[i]; return it and the next index."""
    if i < len(codes) and codes[i] == 5 and i + 1 < len(codes):
        n = codes[i + 1]
        if n < 16:
            return _PALETTE[n], i + 2
        if n < 232:
            n -= 16
            return f"#{_CUBE[n // 36]:02x}{_CUBE[n // 6 % 6]:02x}{_CUBE[n % 6]:02x}", i + 2
        if n < 256:
            grey = 8 + 10 * (n - 232)
            return f"#{grey:02x}{grey:02x}{grey:02x}", i + 2
        return None, i + 2
    if i < len(codes) and codes[i] == 2 and i + 3 < len(codes):
        r, g, b = (min(c, 255) for c in codes[i + 1 : i + 4])
        return f"#{r:02x}{g:02x}{b:02x}", i + 4
    return None, len(codes)


def _apply_sgr(params: str, state: dict[str, str | bool | None]) -> None:
    """Update the style state with one SGR parameter list."""
    codes = [int(p) if p else 0 for p in params.replace(":", ";").split(";")]
    i = 0
    while i < len(codes):
        code = codes[i]
        i += 1
        if code == 0:
            state.clear()
        elif code in _FLAGS:
            state[_FLAGS[code]] = True
        elif code in _FLAG_RESETS:
            for flag in _FLAG_RESETS[code]:
                state.pop(flag, None)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            n = code - 30 if code < 90 else code - 82
            state["color"] = _WHITE_FG.get(n, _PALETTE[n])
        elif 40 <= code <= 47 or 100 <= code <= 107:
            state["background-color"] = _PALETTE[code - 40 if code < 100 else code - 92]
        elif code in (38, 48):
            state["color" if code == 38 else "background-color"], i = _color(codes, i)
        elif code in (39, 49):
            state.pop("color" if code == 39 else "background-color", None)


def _css(state: dict[str, str | bool | None]) -> str:
    return ";".join(
        _FLAG_CSS[key] if value is True else f"{key}:{value}"
        for key, value in state.items()
        if value
    )


@lru_cache(maxsize=1024)
def _next_style(state: tuple[tuple[str, str | bool | None], ...], params: str) -> tuple[tuple, str]:
    """The style state after one SGR sequence, and its CSS (memoized: logs repeat a few styles)."""
    new = dict(state)
    _apply_sgr(params, new)
    return tuple(new.items()), _css(new)


def _html_text(chunk: str) -> str:
    return _CTRL_HTML_RE.sub("", html.escape(chunk.replace("\x00", _NUL), quote=True))


def ansi_to_html(text: str) -> str:
    """Escape text for HTML and turn SGR styling into balanced <span style>; strip other escapes.

    Every character of text outside escape sequences goes through html.escape; styles are
    built only from parsed numbers and the fixed palette.
    """
    if not _has_escapes(text):
        return _html_text(text)
    out: list[str] = []
    state: tuple = ()
    wanted = current = ""
    pos = 0
    for m in [*_ESC_RE.finditer(text), None]:
        chunk = text[pos : m.start() if m else len(text)]
        if chunk:
            if wanted != current:
                out.append("</span>" if current else "")
                out.append(f'<span style="{wanted}">' if wanted else "")
                current = wanted
            out.append(_html_text(chunk))
        if m is None:
            break
        pos = m.end()
        if m["final"] == "m" and not m["inter"] and _SGR_PARAMS_RE.fullmatch(m["params"]):
            state, wanted = _next_style(state, m["params"])
    if current:
        out.append("</span>")
    return "".join(out)
