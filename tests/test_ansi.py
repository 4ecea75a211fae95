"""raynb.ansi: terminal escapes to safe HTML / plain text, carriage-return collapsing."""

from __future__ import annotations

import re

import pytest

from raynb.ansi import ansi_to_html, collapse_cr, strip_ansi


def _balanced(markup: str) -> bool:
    depth = 0
    for tag in re.findall(r"</?span", markup):
        depth += -1 if tag.startswith("</") else 1
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("plain", "plain"),
        ("progress 10%\rprogress 100%", "progress 100%"),
        ("abcdef\rXY", "XYcdef"),
        ("a\rb\rcd", "cd"),
        ("done\r\n", "done\n"),
        ("done\r", "done"),
        ("10%\r50%\r100%\r\n", "100%\n"),
        ("long old text\r\x1b[Knew", "\x1b[Knew"),  # erase-line drops the old remainder
        ("\r", ""),
    ],
)
def test_collapse_cr(line: str, expected: str) -> None:
    assert collapse_cr(line) == expected


def test_collapse_cr_overlays_by_visible_characters() -> None:
    # The escape sequence counts as zero width: "XY" covers "ab", not the escape.
    assert strip_ansi(collapse_cr("\x1b[31mabcdef\x1b[0m\rXY")) == "XYcdef"


def test_basic_colors_and_reset() -> None:
    out = ansi_to_html("a\x1b[31mred\x1b[0mb")
    assert out == 'a<span style="color:#e5534b">red</span>b'


def test_bold_italic_underline_dim_combine() -> None:
    out = ansi_to_html("\x1b[1;3;4;2mx")
    assert out.startswith("<span style=") and out.endswith(">x</span>")
    for css in ("font-weight:bold", "font-style:italic", "text-decoration:underline", "opacity:.7"):
        assert css in out


def test_bright_and_background_and_defaults() -> None:
    out = ansi_to_html("\x1b[91;44mA\x1b[39mB\x1b[49mC")
    assert '<span style="color:#f47067;background-color:#4a8fe7">A</span>' in out
    assert '<span style="background-color:#4a8fe7">B</span>' in out
    assert out.endswith("C")
    assert "background-color:#6cb6ff" in ansi_to_html("\x1b[104mx")


def test_256_and_truecolor() -> None:
    assert ansi_to_html("\x1b[38;5;196mx") == '<span style="color:#ff0000">x</span>'
    assert ansi_to_html("\x1b[38;5;1mx") == '<span style="color:#e5534b">x</span>'
    assert ansi_to_html("\x1b[38;5;244mx") == '<span style="color:#808080">x</span>'
    assert ansi_to_html("\x1b[38;2;10;20;300mx") == '<span style="color:#0a14ff">x</span>'
    assert ansi_to_html("\x1b[48;2;1;2;3mx") == '<span style="background-color:#010203">x</span>'
    assert ansi_to_html("\x1b[48;5;16mx") == '<span style="background-color:#000000">x</span>'


def test_unterminated_style_is_closed_and_spans_balance() -> None:
    out = ansi_to_html("\x1b[1mbold \x1b[32mgreen \x1b[4munder")
    assert out.endswith("under</span>")
    assert _balanced(out)
    assert out.count("<span") == 3


def test_no_empty_spans_for_style_only_changes() -> None:
    assert ansi_to_html("\x1b[31m\x1b[32m\x1b[0mx") == "x"
    assert ansi_to_html("\x1b[31m") == ""


def test_escapes_markup_inside_colored_text() -> None:
    out = ansi_to_html('\x1b[31m<script>alert("x")</script>\x1b[0m<img src=x onerror=alert(1)>')
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out


def test_other_escape_sequences_are_stripped() -> None:
    text = "\x1b[2J\x1b[H\x1b[?25lA\x1b]0;title\x07B\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\C\x1b(BD\x9b2JE"
    assert ansi_to_html(text) == "ABlinkCDE"
    assert strip_ansi(text) == "ABlinkCDE"


def test_unterminated_osc_stops_at_newline() -> None:
    assert ansi_to_html("a\x1b]0;title\nb") == "a\nb"


def test_control_characters_never_reach_html() -> None:
    out = ansi_to_html("a\x00b\x07c\x08d\te\nf\rg\x1b")
    assert out == "a\u2400bcd\te\nfg"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)


def test_malformed_sgr_is_dropped_safely() -> None:
    assert ansi_to_html("\x1b[38;5mx\x1b[38;2;1mY") == "xY"
    assert ansi_to_html("\x1b[38;5;999mx") == "x"
    assert _balanced(ansi_to_html("\x1b[1;38;5mx"))
    assert ansi_to_html("\x1b[" + "9" * 5000 + "mx") == "x"  # no int() of a huge number


def test_strip_ansi_keeps_text_layout() -> None:
    assert strip_ansi("\x1b[1;31mred\x1b[0m\tok\r\n\x00\x07") == "red\tok\r\n\u2400"
    assert strip_ansi("<b>not html</b>") == "<b>not html</b>"
