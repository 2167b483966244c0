"""Issue 2 acceptance on a real clip: all 200 frames tracked, exported twice, read back equal."""

import pytest
from pycocotools.coco import COCO

from annotator.cli.main import main
from annotator.core.masks import decode
from annotator.export import coco, davis
from annotator.export.davis import resize_ids, target_size
from annotator.store import open_project


@pytest.mark.slow
def test_bedroom_track_covers_every_frame_and_round_trips(videos_dir, tmp_path, capsys):
    project = tmp_path / "bedroom.annotator"
    code = main(["track", str(videos_dir / "bedroom.mp4"), "--frame", "0", "--box",
                 "300,0,520,400", "--label", "girl", "--project", str(project),
                 "--export", "davis", str(tmp_path / "davis"),
                 "--export", "coco", str(tmp_path / "coco")])
    _, err = capsys.readouterr()
    assert code == 0, err
    api = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert len(api.imgs) == 200
    assert sorted(img["frame_index"] for img in api.imgs.values()) == list(range(200))
    assert len(api.anns) == 200
    back_coco = coco.read(tmp_path / "coco" / "annotations.json")
    back_davis = davis.read(tmp_path / "davis")
    assert len(list((tmp_path / "davis" / "Annotations" / "480p" / "bedroom").glob("*.png"))) == 200
    size = target_size(960, 540, "480p")
    with open_project(project) as store:
        (video,) = store.videos()
        records = store.masks(video.id)
        assert sorted(r.frame for r in records) == list(range(200))
        for rec in records:
            mask = decode(rec.mask.rle)
            assert (back_coco[("bedroom", rec.frame, rec.object_id)] == mask).all()
            expected = resize_ids(mask.astype("uint8"), size).astype(bool)
            assert (back_davis[("bedroom", rec.frame, rec.object_id)] == expected).all()
