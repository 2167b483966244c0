"""PyInstaller hook for the `annotator` package.

Backends are imported lazily from 'module:factory' strings and listed through entry points, so
static analysis sees neither: collect every submodule (torch-only ones are skipped when torch is
left out of the bundle) and the package metadata that `importlib.metadata.entry_points` reads.
"""

import os

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

WITH_TORCH = os.environ.get("ANNOTATOR_BUNDLE_TORCH") == "1"


def _wanted(name: str) -> bool:
    if name.startswith("annotator.ui.screenshot"):
        return False
    return WITH_TORCH or not name.startswith("annotator.nn")


hiddenimports = collect_submodules("annotator", filter=_wanted)
datas = copy_metadata("annotator")
