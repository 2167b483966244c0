import pytest
import torch

from annotator.cli.labeling import frame_range
from annotator.cli.main import main
from annotator.core.errors import AnnotatorError
from annotator.store import open_project
from tests.factories import square_video


def test_frame_range():
    assert frame_range(":", 10) == range(10)
    assert frame_range("2:5", 10) == range(2, 5)
    assert frame_range("7:", 10) == range(7, 10)
    with pytest.raises(AnnotatorError, match="outside"):
        frame_range("5:20", 10)
    with pytest.raises(AnnotatorError, match="not A:B"):
        frame_range("x", 10)


@pytest.fixture
def project(tmp_path, capsys):
    path, _ = square_video(tmp_path, count=6, size=(96, 64))
    project = tmp_path / "p.annotator"
    assert main(["track", str(path), "--box", "8,20,32,44", "--project", str(project)]) == 0
    capsys.readouterr()
    return project


def test_pseudo_label_command_with_a_tiny_clip(project, tmp_path, monkeypatch, capsys):
    from annotator.nn.clip.model import CLIP, ClipConfig
    from annotator.nn.clip.tokenizer import find_vocab

    if find_vocab() is None:
        pytest.skip("CLIP vocabulary not found: `make test` fetches it (ANNOTATOR_CLIP_VOCAB)")
    torch.manual_seed(0)
    # a tiny CLIP whose shapes the official ViT-B/16 config cannot load: the command must say so
    torch.save(CLIP(ClipConfig(32, 32, 2, 64, 16, 77, 49408, 64, 1, 2)).state_dict(),
               tmp_path / "ViT-B-16.pt")
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    code = main(["pseudo-label", str(project), "--classes", "square", "--frames", "0:3"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "ViT-B-16.pt does not match the model" in err
    with open_project(project) as store:
        assert len(store.objects(store.videos()[0].id)) == 1  # nothing half-written


@pytest.mark.slow
def test_auto_instances_command_with_a_saved_yolact(project, tmp_path, monkeypatch, capsys):
    from annotator.backends.weights import manifests
    from annotator.nn.yolact import build_yolact

    torch.manual_seed(0)
    name = manifests()["yolact_base"].file_name
    torch.save(build_yolact("yolact_base").state_dict(), tmp_path / name)
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    code = main(["auto-instances", str(project), "--frames", "0:2", "--min-score", "0",
                 "--map", "person=walker", "--suppression", "greedy"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "objects in square" in out


def test_auto_instances_noh_without_a_head_says_how_to_get_one(project, tmp_path, monkeypatch,
                                                                capsys):
    from annotator.backends.weights import manifests
    from annotator.nn.yolact import build_yolact

    torch.manual_seed(0)
    torch.save(build_yolact("yolact_resnet50").state_dict(),
               tmp_path / manifests()["yolact_resnet50"].file_name)
    monkeypatch.setenv("ANNOTATOR_MODELS", str(tmp_path))
    code = main(["auto-instances", str(project), "--frames", "0:2", "--suppression", "noh"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "hallucinator head" in err and len(err.strip().splitlines()) == 1
    with open_project(project) as store:
        assert len(store.objects(store.videos()[0].id)) == 1  # nothing written
