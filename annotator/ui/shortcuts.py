"""Every keyboard shortcut in one table: the main window binds it, Help and the README list it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    """An intent name, its keys (Qt portable text) and what it does."""

    name: str
    keys: tuple[str, ...]
    text: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", ("Ctrl+O",), "Open a video, image folder or project"),
    Shortcut("open_folder", ("Ctrl+Shift+O",), "Open an image folder"),
    Shortcut("export", ("Ctrl+E",), "Export (COCO or DAVIS)"),
    Shortcut("undo", ("Ctrl+Z",),
             "Undo (a whole propagation run is one step; also deleting objects)"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo"),
    Shortcut("tool_prompt", ("V",), "Prompt tool: click = positive point, drag = box"),
    Shortcut("tool_brush", ("D",), "Brush: paint the current object's mask"),
    Shortcut("tool_eraser", ("E",), "Eraser: remove from the current object's mask"),
    Shortcut("brush_smaller", ("[",), "Smaller brush"),
    Shortcut("brush_larger", ("]",), "Larger brush"),
    Shortcut("cycle", ("Tab",), "Next candidate mask of the proposal"),
    Shortcut("accept", ("Return", "Enter"),
             "Accept the proposal as the object's mask (or the current object's proposals)"),
    Shortcut("escape", ("Esc",),
             "Drop the proposal or hide the label-map preview; else cancel the running job"),
    Shortcut("delete_mask", ("Del",), "Delete the current object's mask on this frame"),
    Shortcut("new_object", ("N",), "New object"),
    Shortcut("toggle_visible", ("H",), "Hide or show the current object"),
    Shortcut("select_object", tuple(str(d) for d in range(1, 10)), "Select object 1-9"),
    Shortcut("prev_frame", ("Left",), "Previous frame"),
    Shortcut("next_frame", ("Right",), "Next frame"),
    Shortcut("prev_10", ("Shift+Left",), "Back 10 frames"),
    Shortcut("next_10", ("Shift+Right",), "Forward 10 frames"),
    Shortcut("first_frame", ("Home",), "First frame"),
    Shortcut("last_frame", ("End",), "Last frame"),
    Shortcut("play", ("Space",), "Play / pause"),
    Shortcut("set_in", ("I",), "Set In (start of the propagation range) here"),
    Shortcut("set_out", ("O",), "Set Out (end of the propagation range) here"),
    Shortcut("clear_range", ("X",), "Clear In/Out"),
    Shortcut("propagate_forward", ("F",), "Propagate forward to Out (or the last frame)"),
    Shortcut("propagate_backward", ("B",), "Propagate backward to In (or the first frame)"),
    Shortcut("auto_instances", ("A",),
             "Automatic instances on this frame, or on the In/Out range when set"),
    Shortcut("accept_all_proposals", ("Shift+Return", "Shift+Enter"),
             "Accept every object's proposals"),
    Shortcut("reject_proposals", ("R",), "Reject the current proposal object (deletes it)"),
    Shortcut("reject_all_proposals", ("Shift+R",), "Reject every proposal-only object"),
    Shortcut("accept_suggestion", ("L",),
             "Label the object with the first suggestion (Open-Vocabulary SAM)"),
    Shortcut("suggest_labels", ("Shift+L",),
             "Suggest labels for all unlabelled objects (In/Out range or all frames), review"),
    Shortcut("text_prompt", ("T",), "Type a text prompt (a phrase finds the object)"),
    Shortcut("overlay_mode", ("M",), "Overlay: fill / outline / off"),
    Shortcut("zoom_in", ("Ctrl+=", "Ctrl++"), "Zoom in (or the mouse wheel)"),
    Shortcut("zoom_out", ("Ctrl+-",), "Zoom out"),
    Shortcut("zoom_fit", ("Ctrl+0",), "Fit the frame in the view"),
    Shortcut("help", ("F1",), "Show all shortcuts (Help)"),
)
"""Mouse: left click = positive point, right click or Shift+click = negative point, left drag =
box, middle drag = pan, wheel = zoom."""

MOUSE: tuple[tuple[str, str], ...] = (
    ("Left click", "Positive point (on a label-map preview: make the region an object)"),
    ("Rest the pointer", "Faint preview of the mask there (EdgeSAM)"),
    ("Right click / Shift+click", "Negative point"),
    ("Left drag", "Box"),
    ("Middle drag", "Pan"),
    ("Wheel", "Zoom"),
    ("Click a label suggestion", "Label the current object with it"),
)


def by_name(name: str) -> Shortcut:
    """The shortcut of an intent."""
    return next(s for s in SHORTCUTS if s.name == name)


def rows() -> list[tuple[str, str]]:
    """(keys, action) rows, mouse first, for Help and the README."""
    keys = [(" / ".join(s.keys) if s.name != "select_object" else "1 … 9", s.text)
            for s in SHORTCUTS]
    return list(MOUSE) + keys


def markdown_table() -> str:
    """The shortcut list as a Markdown table (README)."""
    lines = ["| Keys | Action |", "| --- | --- |"]
    lines += ["| " + k.replace("|", "\\|") + f" | {t} |" for k, t in rows()]
    return "\n".join(lines) + "\n"
