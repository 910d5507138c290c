"""A PNG chart of an evaluation run's pass rate by task category, with no imaging library.

Horizontal bars, one per category, labelled with a built-in 5x7 pixel font; written as an RGB
PNG (zlib for the pixels, CRC-32 per chunk), a few kilobytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from agent.evals.scoring import EvalRun

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
INK: Color = (33, 37, 41)
TRACK: Color = (226, 230, 234)
PASS: Color = (46, 160, 67)
SCALE = 2
GLYPH_W, GLYPH_H = 5, 7
ROW_H, LABEL_W, BAR_W, VALUE_W, MARGIN = 28, 190, 360, 130, 16

_FONT_ROWS = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "%": "11000 11001 00010 00100 01000 10011 00011",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "_": "00000 00000 00000 00000 00000 00000 11111",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    "@": "01110 10001 10111 10101 10111 10000 01110",
    "+": "00000 00100 00100 11111 00100 00100 00000",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "?": "01110 10001 00001 00010 00100 00000 00100",
}
FONT = {c: [int(row, 2) for row in rows.split()] for c, rows in _FONT_ROWS.items()}


class Canvas:
    """An RGB image in memory, drawn on with rectangles and text."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(WHITE) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        for row in range(max(0, y), min(self.height, y + h)):
            left, right = max(0, x), min(self.width, x + w)
            if right > left:
                start = (row * self.width + left) * 3
                self.pixels[start : start + (right - left) * 3] = bytes(color) * (right - left)

    def text(self, x: int, y: int, text: str, color: Color = INK) -> None:
        for i, char in enumerate(text.upper()):
            glyph = FONT.get(char, FONT["?"])
            for row, bits in enumerate(glyph):
                for col in range(GLYPH_W):
                    if bits >> (GLYPH_W - 1 - col) & 1:
                        left = x + (i * (GLYPH_W + 1) + col) * SCALE
                        self.rect(left, y + row * SCALE, SCALE, SCALE, color)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[r * stride : (r + 1) * stride]) for r in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def pass_rate_chart(run: EvalRun) -> bytes:
    """The run's pass rate by category as PNG bytes."""
    categories = run.totals.by_category
    width = MARGIN * 2 + LABEL_W + BAR_W + VALUE_W
    height = MARGIN * 2 + ROW_H * (len(categories) + 1)
    canvas = Canvas(width, height)
    title = f"pass rate by category: {run.model}"
    canvas.text(MARGIN, MARGIN, title[: (width - 2 * MARGIN) // ((GLYPH_W + 1) * SCALE)])
    for i, (category, (passed, total)) in enumerate(categories.items(), start=1):
        y = MARGIN + i * ROW_H
        canvas.text(MARGIN, y + 6, category[: LABEL_W // ((GLYPH_W + 1) * SCALE)])
        left = MARGIN + LABEL_W
        canvas.rect(left, y + 2, BAR_W, ROW_H - 8, TRACK)
        share = passed / total if total else 0.0
        canvas.rect(left, y + 2, round(BAR_W * share), ROW_H - 8, PASS)
        canvas.text(left + BAR_W + 10, y + 6, f"{passed}/{total} {share:.0%}")
    return canvas.png()


def write_chart(run: EvalRun, path: Path) -> Path:
    path.write_bytes(pass_rate_chart(run))
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
