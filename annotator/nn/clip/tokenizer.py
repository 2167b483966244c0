"""CLIP byte-level BPE tokenizer (openai/CLIP `simple_tokenizer.py` + `clip.tokenize`), no torch.

Ids match the official tokenizer for the released vocabulary `bpe_simple_vocab_16e6.txt.gz`
(shipped with OpenAI's CLIP and the open-clip-torch wheel; see `models/clip_bpe_vocab.toml`):
256 byte symbols, 256 `byte</w>` symbols, 48,894 merges, then `<|startoftext|>` (49406) and
`<|endoftext|>` (49407). Sequences are zero-padded to a context length of 77.

Two official dependencies are replaced by plain Python so the app needs no extra packages:
- `regex` (`\\p{L}`, `\\p{N}` pre-tokenisation) -> a scanner on `unicodedata` general categories,
  which is what those classes mean;
- `ftfy.fix_text` -> `clean_text`: the ftfy fixes that apply to typed text (NFC, curly quotes,
  Latin ligatures, full-width forms, control characters). ftfy's mojibake and C1-control
  repairs are not reproduced; they only change text that was decoded with the wrong codec.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import itertools
import os
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from annotator.core.errors import CheckpointError, PromptError

CONTEXT_LENGTH = 77
VOCAB_FILE_NAME = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_ENV = "ANNOTATOR_CLIP_VOCAB"
SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
_NUM_MERGES = 49152 - 256 - 2  # the official slice `merges[1 : 49152 - 256 - 2 + 1]`
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
_SINGLE_QUOTES = re.compile("[\u02bc\u2018-\u201b]")
_DOUBLE_QUOTES = re.compile("[\u201c-\u201f]")
_LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u0149": "\u02bcn",
    "\u01c7": "LJ", "\u01c8": "Lj", "\u01c9": "lj", "\u01ca": "NJ", "\u01cb": "Nj",
    "\u01cc": "nj", "\u01f1": "DZ", "\u01f2": "Dz", "\u01f3": "dz",
}  # fmt: skip
_WIDTH = re.compile("[\u3000\uff01-\uff5e\uff61-\uffdc]")  # full-width ASCII, half-width kana
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufff9-\ufffc\ufeff]")
_TERMINAL_ESCAPES = re.compile("\033\\[((?:\\d|;)*)([a-zA-Z])")


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable characters."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), ord("\u00ff") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _remove_control(text: str) -> str:
    """ftfy's remove_control_chars: ASCII controls except tab/newline/FF/CR, deprecated Arabic
    controls, interlinear annotations, the object replacement character and the BOM."""
    return _CONTROL.sub("", text)


def clean_text(text: str) -> str:
    """Official `whitespace_clean(basic_clean(text)).lower()` (ftfy replaced, see module doc)."""
    text = _TERMINAL_ESCAPES.sub("", text)
    text = "".join(_LIGATURES.get(c, c) for c in text)
    text = _WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = _SINGLE_QUOTES.sub("'", text)
    text = _DOUBLE_QUOTES.sub('"', text)
    text = unicodedata.normalize("NFC", _remove_control(text))
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


def _kind(c: str) -> str:
    """'L' letter, 'N' number, 'S' whitespace, 'O' other (the official regex's classes)."""
    if c.isspace():
        return "S"
    cat = unicodedata.category(c)[0]
    return cat if cat in ("L", "N") else "O"


def pre_tokenize(text: str) -> list[str]:
    """Split like the official pattern (first alternative that matches wins, left to right):
    `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+`.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        special = next((s for s in (SOT, EOT) if text.startswith(s, i)), None)
        special = special or next((s for s in _CONTRACTIONS if text.startswith(s, i)), None)
        kind = _kind(text[i])
        if special is not None:
            j = i + len(special)
        elif kind == "S":
            i += 1
            continue
        elif kind == "N":
            j = i + 1
        else:  # a run of letters, or a run of "other" characters
            j = i + 1
            while j < n and _kind(text[j]) == kind:
                j += 1
        out.append(text[i:j])
        i = j
    return out


class ClipTokenizer:
    """Text -> CLIP token ids from a `bpe_simple_vocab_16e6.txt.gz`-format merges file."""

    def __init__(self, vocab_path: str | os.PathLike[str]) -> None:
        try:
            lines = gzip.decompress(Path(vocab_path).read_bytes()).decode("utf-8").split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"cannot read CLIP vocabulary {vocab_path}: {exc}") from exc
        merges = [tuple(line.split()) for line in lines[1 : _NUM_MERGES + 1] if line.strip()]
        if any(len(m) != 2 for m in merges):
            raise CheckpointError(f"{vocab_path} is not a CLIP BPE merges file")
        byte_chars = list(bytes_to_unicode().values())
        vocab = [*byte_chars, *(c + "</w>" for c in byte_chars), *("".join(m) for m in merges)]
        vocab += [SOT, EOT]
        self.encoder: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        self.decoder: dict[int, str] = {i: tok for tok, i in self.encoder.items()}
        self.bpe_ranks: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        self.sot_id = self.encoder[SOT]
        self.eot_id = self.encoder[EOT]
        self._cache: dict[str, str] = {SOT: SOT, EOT: EOT}

    def bpe(self, token: str) -> str:
        """Merge the symbols of one pre-token greedily by rank; symbols joined by spaces."""
        if token in self._cache:
            return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        result = " ".join(word)
        self._cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without the start/end tokens."""
        byte_map = bytes_to_unicode()
        ids: list[int] = []
        for token in pre_tokenize(clean_text(text)):
            symbols = "".join(byte_map[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(symbols).split(" "))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Inverse of `encode` up to the cleanup (for messages and debugging)."""
        byte_back = {c: b for b, c in bytes_to_unicode().items()}
        text = "".join(self.decoder[int(i)] for i in ids)
        raw = bytearray(byte_back[c] for c in text)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ")

    def __call__(
        self,
        texts: str | Sequence[str],
        context_length: int = CONTEXT_LENGTH,
        truncate: bool = False,
    ) -> np.ndarray:
        """`clip.tokenize`: (N, context_length) int32, SOT + ids + EOT, zero padded.

        Too-long text raises PromptError unless `truncate` (then the last kept id becomes EOT).
        """
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), context_length), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = [self.sot_id, *self.encode(text), self.eot_id]
            if len(ids) > context_length:
                if not truncate:
                    raise PromptError(
                        f"text is too long for CLIP ({len(ids)} > {context_length} tokens): "
                        f"{text[:40]!r}..."
                    )
                ids = [*ids[: context_length - 1], self.eot_id]
            out[row, : len(ids)] = ids
        return out


def find_vocab() -> Path | None:
    """The CLIP vocabulary file from $ANNOTATOR_CLIP_VOCAB, or an installed `open_clip`/`clip`
    package (found without importing it), or None."""
    env = os.environ.get(VOCAB_ENV)
    if env and Path(env).is_file():
        return Path(env)
    for package in ("open_clip", "clip"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            candidate = Path(spec.origin).parent / VOCAB_FILE_NAME
            if candidate.is_file():
                return candidate
    return None
