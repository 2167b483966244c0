"""CLIP BPE tokenizer: official ids from the parity fixture, and rules on a tiny vocabulary."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from annotator.core.errors import CheckpointError, PromptError
from annotator.nn.clip.tokenizer import (
    ClipTokenizer,
    bytes_to_unicode,
    clean_text,
    find_vocab,
    pre_tokenize,
)


def byte_id(char: str) -> int:
    """Id of a single-byte symbol (first 256 ids, in bytes_to_unicode order)."""
    return list(bytes_to_unicode().values()).index(char)


@pytest.fixture
def tiny(tmp_path: Path) -> ClipTokenizer:
    """Merges: 512 'lo', 513 'low</w>', 514 'hi</w>'; SOT 515, EOT 516."""
    path = tmp_path / "tiny.txt.gz"
    path.write_bytes(gzip.compress(b'"tiny#version: 0.2\nl o\nlo w</w>\nh i</w>\n'))
    return ClipTokenizer(path)


def test_bytes_to_unicode_is_a_printable_bijection() -> None:
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert table[ord("a")] == "a"
    assert table[ord(" ")] == "Ġ"


def test_tiny_vocabulary_ids(tiny: ClipTokenizer) -> None:
    assert len(tiny.encoder) == 517
    assert (tiny.sot_id, tiny.eot_id) == (515, 516)
    assert tiny.encode("low") == [513]
    assert tiny.encode("  LOW \n\t low!") == [513, 513, 256 + byte_id("!")]
    assert tiny.encode("hi lo") == [514, byte_id("l"), 256 + byte_id("o")]
    # 'lo' as a word: 'l' + 'o</w>' (the pair ('l', 'o</w>') is not a merge)
    assert tiny.encode("lo") == [byte_id("l"), 256 + byte_id("o")]
    assert tiny.encode("lol") == [512, 256 + byte_id("l")]


def test_tokenize_pads_and_truncates(tiny: ClipTokenizer) -> None:
    ids = tiny(["low", "hi"])
    assert ids.dtype == np.int32
    assert ids.shape == (2, 77)
    assert ids[0, :3].tolist() == [515, 513, 516]
    assert not ids[0, 3:].any()
    assert ids[1, :3].tolist() == [515, 514, 516]
    long_text = " ".join(["low"] * 80)
    with pytest.raises(PromptError, match="too long"):
        tiny(long_text)
    cut = tiny(long_text, truncate=True)[0]
    assert cut[0] == 515
    assert cut[-1] == 516
    assert (cut[1:-1] == 513).all()


def test_pre_tokenize_follows_the_official_pattern() -> None:
    assert pre_tokenize("it's 2 dogs!!") == ["it", "'s", "2", "dogs", "!!"]
    assert pre_tokenize("abc123") == ["abc", "1", "2", "3"]
    assert pre_tokenize("crème brûlée") == ["crème", "brûlée"]
    assert pre_tokenize("a<|endoftext|>b") == ["a", "<|endoftext|>", "b"]
    assert pre_tokenize("!<|endoftext|>") == ["!<|", "endoftext", "|>"]
    assert pre_tokenize("we'll re-do") == ["we", "'ll", "re", "-", "do"]


def test_clean_text() -> None:
    assert clean_text("  Hello \n\tWORLD  ") == "hello world"
    assert clean_text("fish &amp;amp; chips") == "fish & chips"
    assert clean_text("\u201cquoted\u201d \u2018it\u2019s\u2019") == "\"quoted\" 'it's'"
    assert clean_text("\ufb01sh \uff21\uff22\uff23") == "fish abc"
    assert clean_text("cafe\u0301") == "caf\u00e9"  # NFC
    assert clean_text("a\x00b\ufeffc\x7f") == "abc"


def test_decode_round_trip(tiny: ClipTokenizer) -> None:
    assert tiny.decode(tiny.encode("low hi lol")) == "low hi lol "


def test_not_a_vocabulary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(CheckpointError):
        ClipTokenizer(bad)
    bad.write_bytes(gzip.compress(b"header\na b c\n"))
    with pytest.raises(CheckpointError, match="not a CLIP BPE"):
        ClipTokenizer(bad)


def test_official_ids(parity_dir: Path) -> None:
    """Exact ids of `clip.tokenize` (needs the released vocabulary, found by `find_vocab`)."""
    vocab = find_vocab()
    if vocab is None:
        pytest.skip(
            "CLIP vocabulary absent: set ANNOTATOR_CLIP_VOCAB to bpe_simple_vocab_16e6.txt.gz"
        )
    root = parity_dir / "maskclip_vitb16"
    texts = json.loads((root / "manifest.json").read_text())["cases"]["text"]["inputs"]
    expected = np.load(root / "expected.npz")
    tokenizer = ClipTokenizer(vocab)
    assert len(tokenizer.encoder) == 49408
    assert (tokenizer.sot_id, tokenizer.eot_id) == (49406, 49407)
    np.testing.assert_array_equal(tokenizer(texts["texts"]), expected["text/tokens"])
    np.testing.assert_array_equal(tokenizer(texts["extra_texts"]), expected["text/extra_tokens"])
