"""Entry point for video tracking with a SAM 2-family model: `Sam2VideoPredictor.start`."""

from __future__ import annotations

from annotator.core.errors import PromptError
from annotator.core.ports import VideoSource
from annotator.nn.sam2.model import Sam2Model
from annotator.nn.sam2.transforms import ResizeMode
from annotator.nn.sam2.video_session import FrameGetter, VideoSession


class Sam2VideoPredictor:
    """Creates video sessions for a SAM 2-family model (EdgeTAM: `load_edgetam`)."""

    def __init__(
        self,
        model: Sam2Model,
        *,
        fill_hole_area: int | None = None,
        resize_mode: ResizeMode = "antialias",
        feature_cache_size: int = 2,
        keep_frames: int | None = 300,
        refine_keyframes: bool = True,
    ) -> None:
        self.model = model.eval()
        self.fill_hole_area = model.cfg.fill_hole_area if fill_hole_area is None else fill_hole_area
        self.resize_mode: ResizeMode = resize_mode
        self.feature_cache_size = feature_cache_size
        self.keep_frames = keep_frames
        self.refine_keyframes = refine_keyframes

    def start(
        self,
        frames: FrameGetter | VideoSource,
        num_frames: int | None = None,
        video_size: tuple[int, int] | None = None,
    ) -> VideoSession:
        """A session over `frames`: a VideoSource, or get_frame(i) -> RGB uint8 H x W x 3 plus
        `num_frames` (video_size (H, W) defaults to frame 0's size)."""
        if isinstance(frames, VideoSource):
            source = frames
            get_frame: FrameGetter = source.frame
            num_frames = len(source) if num_frames is None else num_frames
            video_size = video_size or (source.info.height, source.info.width)
        else:
            get_frame = frames
        if num_frames is None or num_frames <= 0:
            raise PromptError("num_frames is needed for a frame callable")
        if video_size is None:
            first = get_frame(0)
            video_size = (int(first.shape[0]), int(first.shape[1]))
        return VideoSession(
            self.model,
            get_frame,
            num_frames,
            video_size,
            fill_hole_area=self.fill_hole_area,
            resize_mode=self.resize_mode,
            feature_cache_size=self.feature_cache_size,
            keep_frames=self.keep_frames,
            refine_keyframes=self.refine_keyframes,
        )
