"""Line assembly rules of the log tail (pure logic; the transports are tested on real Ray)."""

from __future__ import annotations

import pytest

from raynb.client import StreamLimitError, StreamLimits
from raynb.client.logs import LineAssembler


def feed_all(asm: LineAssembler, *chunks: bytes) -> list[str]:
    return [line for chunk in chunks for line in asm.feed(chunk)]


def test_lines_split_across_chunks_and_multibyte_characters() -> None:
    asm = LineAssembler(StreamLimits())
    text = "caf\u00e9 one\nsecond \u2713\n".encode()
    assert feed_all(asm, *[text[i : i + 1] for i in range(len(text))]) == ["caf\u00e9 one", "second \u2713"]


def test_byte_limit_counts_utf8_bytes_not_characters() -> None:
    asm = LineAssembler(StreamLimits(max_bytes=250))
    got: list[str] = []
    with pytest.raises(StreamLimitError) as err:
        for line in asm.feed(("\u00e9" * 100 + "\n").encode() * 2):
            got.append(line)
    # 201 bytes a line: counted as characters (101) both would fit in 250; as bytes one does.
    assert got == ["\u00e9" * 100] and err.value.status_code == 429


def test_message_limit() -> None:
    asm = LineAssembler(StreamLimits(max_messages=2))
    assert feed_all(asm, b"a\n", b"b\n") == ["a", "b"]
    with pytest.raises(StreamLimitError, match="2 messages"):
        feed_all(asm, b"c\n")


def test_restart_skips_delivered_lines_in_universal_newline_units() -> None:
    asm = LineAssembler(StreamLimits())
    assert feed_all(asm, b"one\ntwo 10%\rtwo 100%\nthr") == ["one", "two 10%\rtwo 100%"]
    # The WebSocket side reads the same file in text mode: '\r' became a line break there.
    asm.restart()
    assert feed_all(asm, b"one\ntwo 10%\n", b"two 100%\nthree\n") == ["three"]
    # Resuming in the middle of a '\r' line delivers the rest of it.
    asm2 = LineAssembler(StreamLimits())
    feed_all(asm2, b"x\n")
    asm2.position += 1  # as if 'a' had been delivered from the text-mode side
    asm2.restart()
    assert feed_all(asm2, b"x\na\rb\rc\n") == ["b\rc"]


def test_overlong_line_is_truncated_with_a_marker_and_counted_once() -> None:
    asm = LineAssembler(StreamLimits(max_message_size=10))
    got = feed_all(asm, b"0123456789ABCDEF", b"GH\r\nnext\n")
    assert got == ["0123456789 \u2026 [line truncated: 9 more bytes]", "next"]
    asm.restart()
    assert feed_all(asm, b"0123456789ABCDEFGH\r\nnext\nlast") == []
    assert list(asm.finish()) == ["last"]
