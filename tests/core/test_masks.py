import numpy as np
import pytest

from annotator.core import masks
from annotator.core.errors import PromptError
from annotator.core.types import Box, Point, Prompts, validate_prompts


def test_rle_round_trip_is_lossless_with_holes():
    m = np.zeros((40, 50), bool)
    m[5:30, 10:40] = True
    m[10:15, 20:25] = False  # a hole
    m[0, 0] = True
    rle = masks.encode(m)
    assert (masks.decode(rle) == m).all()
    assert masks.area(rle) == int(m.sum())
    assert masks.bbox(rle) == (0.0, 0.0, 40.0, 30.0)


def test_coco_form_round_trip_and_uncompressed_counts():
    m = np.zeros((4, 3), bool)
    m[1:3, 1] = True
    rle = masks.encode(m)
    assert masks.MaskRLE.from_coco(rle.to_coco()) == rle
    # column-major counts: 5 zeros, 2 ones, 5 zeros
    uncompressed = {"size": [4, 3], "counts": [5, 2, 5]}
    assert (masks.decode(masks.MaskRLE.from_coco(uncompressed)) == m).all()


def test_iou_cases():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[2:7] = True
    assert masks.iou(masks.encode(a), masks.encode(b)) == pytest.approx(30 / 70)
    empty = masks.encode(np.zeros((10, 10), bool))
    assert masks.iou(empty, empty) == 1.0
    assert masks.mask_iou(a, np.zeros_like(a)) == 0.0


def test_encode_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        masks.encode(np.zeros((2, 2, 2), bool))


def test_prompts_outside_frame_are_refused():
    validate_prompts(Prompts(points=(Point(0, 0), Point(64, 48))), 64, 48)
    with pytest.raises(PromptError, match="outside the 64x48 frame"):
        validate_prompts(Prompts(points=(Point(65, 10),)), 64, 48)
    with pytest.raises(PromptError, match="outside"):
        validate_prompts(Prompts(box=Box(-5, 0, 10, 10)), 64, 48)
    with pytest.raises(PromptError, match="empty"):
        validate_prompts(Prompts(box=Box(5, 5, 6, 30)), 64, 48)
