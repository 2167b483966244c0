"""Argument types for prompts and frames, with messages that say the expected form."""

from __future__ import annotations

import argparse

from annotator.core.types import Box, Point


def _numbers(text: str, count: int, form: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"'{text}' is not {form}")
    return values


def point(text: str) -> Point:
    """'X,Y' -> a positive Point."""
    x, y = _numbers(text, 2, "X,Y (e.g. 120,80)")
    return Point(x, y, True)


def negative_point(text: str) -> Point:
    """'X,Y' -> a negative Point."""
    x, y = _numbers(text, 2, "X,Y (e.g. 120,80)")
    return Point(x, y, False)


def box(text: str) -> Box:
    """'X0,Y0,X1,Y1' -> a Box."""
    return Box(*_numbers(text, 4, "X0,Y0,X1,Y1 (e.g. 10,20,200,180)"))
