"""The LVIS v1 class names, in dataset order, for Open-Vocabulary SAM's released vocabulary.

OVSAM's LVIS classifier file holds only embeddings; its rows follow mmdetection's
`LVISV1Dataset.METAINFO['classes']`. We read that tuple from `mmdet/datasets/lvis.py` inside the
mmdetection wheel (model id `lvis_v1_names`) with `ast`, never importing mmdet; a plain text file
with one name per line works too.
"""

from __future__ import annotations

import ast
import os
import zipfile
from pathlib import Path

from annotator.backends.weights import find_weights
from annotator.core.errors import CheckpointError

LVIS_V1_CLASSES = 1203
ENV_NAMES = "ANNOTATOR_LVIS_NAMES"
"""Path of the names file (wheel or text), checked before the model folders."""
MODULE = "mmdet/datasets/lvis.py"
DATASET = "LVISV1Dataset"


def find_lvis_names() -> Path | None:
    """$ANNOTATOR_LVIS_NAMES, else the `lvis_v1_names` download, else None."""
    env = os.environ.get(ENV_NAMES)
    if env and Path(env).is_file():
        return Path(env)
    return find_weights("lvis_v1_names")


def read_lvis_names(path: str | Path) -> tuple[str, ...]:
    """The 1203 names from the mmdetection wheel (or a text file, one per line)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as wheel:
                names = _dataset_classes(wheel.read(MODULE).decode("utf-8"))
        else:
            names = tuple(n.strip() for n in path.read_text("utf-8").splitlines() if n.strip())
    except (OSError, KeyError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise CheckpointError(f"cannot read LVIS class names from {path.name}: {exc}; "
                              "get them with `annotator models get lvis_v1_names`") from exc
    if len(names) != LVIS_V1_CLASSES or len(set(names)) != len(names):
        raise CheckpointError(f"{path.name} holds {len(names)} class names ({len(set(names))} "
                              f"distinct), not the {LVIS_V1_CLASSES} of LVIS v1")
    return names


def _dataset_classes(source: str) -> tuple[str, ...]:
    """`LVISV1Dataset.METAINFO['classes']` of mmdet's lvis.py, as a literal."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == DATASET:
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name)
                        and stmt.targets[0].id == "METAINFO"):
                    return tuple(ast.literal_eval(stmt.value)["classes"])
    raise ValueError(f"no {DATASET}.METAINFO in {MODULE}")
