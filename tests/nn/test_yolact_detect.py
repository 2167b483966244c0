import torch


def test_yolact_postprocess_handles_a_frame_without_detections():
    from annotator.nn.yolact.detect import RawDetections, postprocess

    raw = RawDetections(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0),
                        torch.zeros(0, 32), torch.zeros(138, 138, 32))
    classes, scores, boxes, masks = postprocess(raw, 120, 160)
    assert classes.numel() == 0 and scores.numel() == 0
    assert boxes.shape == (0, 4) and masks.shape == (0, 120, 160)
