"""EdgeTAM against the official implementation's recorded outputs (shared/parity/edgetam)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from annotator.core.errors import CheckpointError
from annotator.nn.sam2 import (
    EDGETAM,
    Sam2Model,
    Sam2VideoPredictor,
    build_model,
    load_edgetam,
)
from annotator.nn.sam2.transforms import preprocess
from tests.nn._sam2_helpers import (
    assert_close,
    check_image_predict,
    check_pass,
    check_state,
    fixture_state_dict,
    single_thread,
)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread():
        yield


@pytest.fixture(scope="module")
def folder(parity_dir: Path) -> Path:
    return parity_dir / "edgetam"


@pytest.fixture(scope="module")
def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def model(folder: Path) -> Sam2Model:
    m = build_model(EDGETAM)
    m.load_state_dict(fixture_state_dict(folder), strict=True)
    return m


@pytest.fixture(scope="module")
def inputs(folder: Path) -> dict[str, np.ndarray]:
    return dict(np.load(folder / "inputs.npz"))


@pytest.fixture(scope="module")
def expected(folder: Path) -> dict[str, np.ndarray]:
    return dict(np.load(folder / "expected.npz"))



def test_state_dict_matches_manifest(manifest: dict) -> None:
    own = {
        k: (list(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in build_model(EDGETAM).state_dict().items()
    }
    want = {k: (shape, dtype) for k, shape, dtype, _ in manifest["keys"]}
    assert sorted(set(want) - set(own)) == []
    assert sorted(set(own) - set(want)) == []
    assert own == want
    assert len(own) == manifest["num_state_tensors"] == 982


def test_load_edgetam_roundtrip_and_errors(tmp_path: Path, model: Sam2Model) -> None:
    good = tmp_path / "edgetam.pt"
    torch.save({"model": model.state_dict()}, good)
    loaded = load_edgetam(good)
    assert torch.equal(loaded.no_obj_ptr, model.no_obj_ptr)
    fused = load_edgetam(good, fuse=True)  # BN folded: a different, inference-only layout
    assert "image_encoder.trunk.body.stem.conv1.conv.weight" in fused.state_dict()

    state = dict(model.state_dict())
    state["extra.weight"] = state.pop("no_obj_ptr")
    bad = tmp_path / "wrong.pt"
    torch.save({"model": state}, bad)
    with pytest.raises(CheckpointError, match=r"missing keys no_obj_ptr.*unexpected keys extra"):
        load_edgetam(bad)

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_edgetam(corrupt)


@torch.inference_mode()
def test_image_encoder(model: Sam2Model, inputs: dict, expected: dict) -> None:
    out = model.forward_image(preprocess(inputs["frames"][0], 1024, "bilinear"))
    for i in range(3):
        for name, t in (
            ("backbone_fpn", out.backbone_fpn[i]),
            ("vision_pos_enc", out.vision_pos_enc[i]),
        ):
            key = f"image_encoder/{name}_{i}"
            a = t.numpy()
            assert list(a.shape) == expected[f"{key}/shape"].tolist()
            assert_close(
                f"{key}/mean", np.array(a.astype(np.float64).mean()), expected[f"{key}/mean"], 1e-4
            )
            assert_close(
                f"{key}/std", np.array(a.astype(np.float64).std()), expected[f"{key}/std"], 1e-4
            )
            assert_close(
                f"{key}/sample",
                a.reshape(-1)[expected[f"{key}/sample_idx"]],
                expected[f"{key}/sample"],
            )


def test_image_predict(model: Sam2Model, inputs: dict, expected: dict) -> None:
    check_image_predict(model, inputs, expected)




@pytest.mark.slow
def test_video_propagation_with_correction(model: Sam2Model, inputs: dict, expected: dict) -> None:
    frames = inputs["frames"]
    # the official CPU run skips hole filling (no CUDA extension): fill_hole_area=0
    predictor = Sam2VideoPredictor(
        model, fill_hole_area=0, resize_mode="bilinear", keep_frames=None
    )
    session = predictor.start(lambda i: frames[i], num_frames=len(frames))

    res = session.add_points(0, 1, inputs["video_obj1_points"], inputs["video_obj1_labels"])
    key = "video/click0_obj1_point"
    assert res.object_ids == [1]
    assert_close(f"{key}/masks", res.mask_logits[:, None], expected[f"{key}/masks"])
    check_state(session, 0, [1], key, expected)

    res = session.add_points(0, 2, box=inputs["video_obj2_box"])
    key = "video/click1_obj2_box"
    assert_close(f"{key}/masks", res.mask_logits[:, None], expected[f"{key}/masks"])
    check_state(session, 0, [1, 2], key, expected)

    check_pass(session, "video/pass1", expected)

    frame = int(inputs["video_corr_frame"])
    res = session.add_points(frame, 1, inputs["video_corr_points"], inputs["video_corr_labels"])
    key = "video/click2_obj1_negative_f4"
    assert_close(f"{key}/masks", res.mask_logits[:, None], expected[f"{key}/masks"])
    check_state(session, frame, [1, 2], key, expected)

    check_pass(session, "video/pass2", expected)
