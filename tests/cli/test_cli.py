import os
import subprocess
import sys

import pytest
from pycocotools.coco import COCO

from annotator.cli.main import main
from annotator.core.masks import decode, mask_iou
from annotator.export import coco, davis
from annotator.store import open_project
from tests.factories import square_video


@pytest.fixture
def video(tmp_path):
    path, masks = square_video(tmp_path, count=12, size=(96, 64))
    return path, masks


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_track_exports_every_frame_and_round_trips(video, tmp_path, capsys):
    path, truth = video
    project = tmp_path / "p.annotator"
    code, out, err = _run(capsys, "track", path, "--frame", 5, "--box", "22,19,54,45",
                          "--label", "square", "--project", project,
                          "--export", "coco", tmp_path / "c", "--export", "davis", tmp_path / "d")
    assert code == 0, err
    assert "stored 12 masks" in out
    api = COCO(str(tmp_path / "c" / "annotations.json"))
    assert len(api.imgs) == 12 and len(api.anns) == 12
    assert (tmp_path / "c" / "images" / "square" / "00011.jpg").exists()
    back_coco = coco.read(tmp_path / "c" / "annotations.json")
    with open_project(project) as store:
        (v,) = store.videos()
        stored = {(r.frame, r.object_id): r for r in store.masks(v.id)}
        sources = {r.mask.provenance.source for r in stored.values()}
        assert sources == {"manual", "propagated"}
        for (frame, obj), rec in stored.items():
            m = decode(rec.mask.rle)
            assert (back_coco[("square", frame, obj)] == m).all()
            assert mask_iou(m, truth[frame]) > 0.7
    assert len(davis.read(tmp_path / "d")) == 12


@pytest.mark.parametrize(("make", "args", "message"), [
    ("missing", ["--box", "1,1,9,9"], "video not found"),
    ("text", ["--box", "1,1,9,9"], "as a video"),
    ("good", ["--box", "1,1,200,9"], "outside the 96x64 frame"),
    ("good", ["--point=-3,5"], "outside the 96x64 frame"),
    ("good", ["--box", "1,1,9,9", "--frame", "99"], "--frame 99 is outside"),
    ("good", ["--box", "1,1,9,9", "--backend", "nope"], "unknown backend 'nope'"),
    ("good", [], "give a prompt"),
    ("good", ["--box", "1,1,9,9", "--export", "coco", "BLOCKED/out"], "cannot create output"),
])
def test_bad_inputs_give_one_line_and_no_damaged_project(video, tmp_path, capsys, make, args,
                                                         message):
    path, _ = video
    target = {"missing": tmp_path / "absent.mp4", "good": path}.get(make)
    if make == "text":
        target = tmp_path / "notes.mp4"
        target.write_text("this is not a video\n")
    (tmp_path / "BLOCKED").write_text("a file where a folder is expected")
    args = [a.replace("BLOCKED", str(tmp_path / "BLOCKED")) for a in args]
    project = tmp_path / "p.annotator"
    code, _out, err = _run(capsys, "track", target, "--project", project, *args)
    assert code == 2
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not project.exists()


def test_truncated_video_tracks_the_frames_that_decode(tmp_path, capsys):
    path, _ = square_video(tmp_path, count=60, size=(96, 64))
    cut = tmp_path / "cut.mp4"
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    code, _out, err = _run(capsys, "track", cut, "--box", "8,20,32,44", "--project",
                          tmp_path / "p.annotator")
    assert code == 0, err
    with open_project(tmp_path / "p.annotator") as store:
        (v,) = store.videos()
        assert 0 < v.frame_count < 60
        assert store.count_masks(v.id) == v.frame_count


def test_verbose_shows_the_traceback_and_the_script_exits_non_zero(tmp_path):
    cmd = [sys.executable, "-m", "annotator", "track", str(tmp_path / "absent.mp4"), "--box",
           "1,1,5,5", "--project", str(tmp_path / "p.annotator")]
    quiet = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert quiet.returncode == 2
    assert quiet.stderr.strip().splitlines() == [quiet.stderr.strip()]
    loud = subprocess.run([*cmd[:3], "--verbose", *cmd[3:]], capture_output=True, text=True,
                          check=False)
    assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_export_command_and_missing_project(video, tmp_path, capsys):
    path, _ = video
    project = tmp_path / "p.annotator"
    assert _run(capsys, "track", path, "--box", "8,20,32,44", "--project", project)[0] == 0
    code, out, _ = _run(capsys, "export", project, "--format", "davis", "--no-images",
                        tmp_path / "d")
    assert code == 0 and "davis export" in out
    assert not (tmp_path / "d" / "JPEGImages").exists()
    code, _, err = _run(capsys, "export", tmp_path / "nope.annotator", "--format", "coco",
                        tmp_path / "c")
    assert code == 2 and "does not exist" in err


def test_backends_lists_classical(capsys):
    code, out, _ = _run(capsys, "backends")
    assert code == 0 and "classical" in out and "ready" in out


def test_no_display_runs_the_sample_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = subprocess.run([sys.executable, "-m", "annotator"], capture_output=True, text=True,
                            check=False, env=dict(os.environ), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "running the same job headless" in result.stderr
    assert "coco export" in result.stdout and "davis export" in result.stdout
