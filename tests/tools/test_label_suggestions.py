"""Label suggestions through the real store with a colour-recognizing segmenter on real frames."""

import numpy as np

from annotator.backends.protocol import SEGMENTER, BackendInfo
from annotator.core.masks import encode
from annotator.core.project import StoredMask
from annotator.core.types import MaskProposal, Provenance, Source
from annotator.store import open_project
from annotator.tools.label_suggestions import sample_frames, suggest_labels
from annotator.tools.videos import add_video
from annotator.video import write_video


class ColourNamer:
    """Names the mean colour inside the prompt box: a recognizer with known answers."""

    info = BackendInfo("namer", "Namer", frozenset({SEGMENTER}))

    def __init__(self) -> None:
        self.encoded: list[object] = []

    def set_frame(self, frame, key=None):
        self.frame = frame
        self.encoded.append(key)

    def predict(self, prompts):
        b = prompts.box
        patch = self.frame[int(b.y0):int(b.y1), int(b.x0):int(b.x1)].reshape(-1, 3).mean(0)
        red = float(patch[0] > patch[2])
        mask = np.zeros(self.frame.shape[:2], bool)
        ranked = (("tomato", 0.7 * red + 0.1), ("sky", 0.7 * (1 - red) + 0.1), ("rock", 0.1))
        ranked = tuple(sorted(ranked, key=lambda kv: -kv[1]))
        return [MaskProposal(mask, ranked[0][1], {}, ranked[0][0], ranked)]


def test_sample_frames_spreads_over_the_track():
    assert sample_frames([1, 2], 3) == [1, 2]
    assert sample_frames(list(range(10)), 3) == [0, 4, 9]


def test_unlabelled_objects_get_ranked_suggestions(tmp_path):
    frames = []
    for _ in range(6):
        f = np.zeros((48, 64, 3), np.uint8)
        f[5:20, 5:25] = (220, 30, 30)
        f[25:45, 35:60] = (30, 30, 220)
        frames.append(f)
    write_video(tmp_path / "v.mp4", frames, 10.0)
    store = open_project(tmp_path / "p.annotator")
    video, source = add_video(store, tmp_path / "v.mp4")
    red = store.add_object(video.id)
    blue = store.add_object(video.id)
    named = store.add_object(video.id, "already")
    for obj, (y0, y1, x0, x1) in ((red, (5, 20, 5, 25)), (blue, (25, 45, 35, 60)),
                                  (named, (0, 4, 0, 4))):
        m = np.zeros((48, 64), bool)
        m[y0:y1, x0:x1] = True
        store.write_masks((video.id, obj.id, f, StoredMask(encode(m), Provenance(Source.MANUAL)))
                          for f in range(6))
    namer = ColourNamer()
    steps = list(suggest_labels(store, namer, video.id, source, per_object=3))
    result = dict(s.result for s in steps)
    assert set(result) == {red.id, blue.id}  # labelled objects are left alone
    assert result[red.id][0][0] == "tomato"
    assert result[blue.id][0][0] == "sky"
    assert result[red.id][0][1] > result[red.id][1][1]
    assert len(namer.encoded) == 6  # three frames per object
