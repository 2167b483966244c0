"""Built-in backend specs: cheap objects only, no heavy imports (listed explicitly, greppable)."""

from annotator.backends.protocol import (
    GROUNDER,
    PROPOSER,
    SEGMENTER,
    TRACKER,
    BackendInfo,
    BackendSpec,
)
from annotator.backends.weights import missing_weights

TORCH_HINT = "pip install torch==2.13.0 (CPU) or a CUDA build from pytorch.org"

CLASSICAL_INFO = BackendInfo(
    id="classical",
    name="Classical (GrabCut + optical flow)",
    roles=frozenset({SEGMENTER, TRACKER}),
    prompts=frozenset({"point", "box", "mask"}),
    description="No weights needed: GrabCut seeded by prompts, DIS optical flow with refinement.",
    multimask=True,
)

EDGESAM_INFO = BackendInfo(
    id="edgesam",
    name="EdgeSAM",
    roles=frozenset({SEGMENTER}),
    prompts=frozenset({"point", "box"}),
    description="Fast click-to-segment (chongzhou96/EdgeSAM); candidates ranked by stability.",
    requires=("torch",),
    install_hint=TORCH_HINT,
    multimask=True,
)

YOLACT_INFO = BackendInfo(
    id="yolact",
    name="YOLACT (automatic instances)",
    roles=frozenset({PROPOSER}),
    prompts=frozenset(),
    description="Instance masks for all 80 COCO classes on a frame (dbolya/yolact, YOLACT and "
                "YOLACT++; Fast NMS or another of the NMS family).",
    requires=("torch",),
    install_hint=TORCH_HINT,
)
YOLACT_MODELS = ("yolact_base", "yolact_resnet50", "yolact_plus_base", "yolact_plus_resnet50")
"""YOLACT's released files, preferred first; the backend is ready when any one is here."""

EDGETAM_INFO = BackendInfo(
    id="edgetam",
    name="EdgeTAM",
    roles=frozenset({SEGMENTER, TRACKER}),
    prompts=frozenset({"point", "box", "mask"}),
    description="Video tracker of the SAM 2 family (facebookresearch/EdgeTAM), streaming memory.",
    requires=("torch",),
    install_hint=TORCH_HINT,
    multimask=True,
)

EFFICIENTTAM_INFO = BackendInfo(
    id="efficienttam",
    name="EfficientTAM",
    roles=frozenset({SEGMENTER, TRACKER}),
    prompts=frozenset({"point", "box", "mask"}),
    description="Video tracker with a plain ViT and efficient memory attention (yformer).",
    requires=("torch",),
    install_hint=TORCH_HINT,
    multimask=True,
)

OVSAM_INFO = BackendInfo(
    id="ovsam",
    name="Open-Vocabulary SAM",
    roles=frozenset({SEGMENTER}),
    prompts=frozenset({"point", "box"}),
    description="Segment and recognize: a mask plus top-5 class suggestions (HarborYuan/ovsam).",
    requires=("torch",),
    install_hint=TORCH_HINT,
)

MASKCLIP_INFO = BackendInfo(
    id="maskclip",
    name="DenseCLIP / MaskCLIP (text)",
    roles=frozenset({GROUNDER}),
    prompts=frozenset({"text"}),
    description="Training-free dense labels from class names or a phrase (CLIP ViT-B/16).",
    requires=("torch",),
    install_hint=TORCH_HINT,
)


def _maskclip_check() -> str | None:
    """Cheap first (the checkpoint file); the vocabulary lookup imports the model package."""
    problem = missing_weights("clip_vit_b16")
    if problem:
        return problem
    from annotator.backends.builtin.maskclip import vocab_problem

    return vocab_problem()


OVSAM_FILES = {"sam2clip": "ovsam_sam2clip_vith_rn50x16",
               "clip2sam": "ovsam_clip2sam_lvis_rn50x16",
               "sam": "ovsam_sam_vit_h", "clip": "ovsam_clip_rn50x16"}
"""Which model manifest provides each part of Open-Vocabulary SAM."""


def ovsam_missing_files() -> str | None:
    """The first released OVSAM file that is not on this machine (cheap: no model imports)."""
    return next(filter(None, (missing_weights(m) for m in OVSAM_FILES.values())), None)


def _ovsam_check() -> str | None:
    """Cheap first (the four released files); the vocabulary lookup imports the model package."""
    return ovsam_missing_files() or _maskclip_vocab()


def _maskclip_vocab() -> str | None:
    from annotator.backends.builtin.maskclip import vocab_problem

    return vocab_problem()


BUILTIN_SPECS: tuple[BackendSpec, ...] = (
    BackendSpec(CLASSICAL_INFO, "annotator.backends.builtin.classical:create"),
    BackendSpec(EDGETAM_INFO, "annotator.backends.builtin.sam2_family:create_edgetam",
                check=lambda: missing_weights("edgetam")),
    BackendSpec(EFFICIENTTAM_INFO, "annotator.backends.builtin.sam2_family:create_efficienttam",
                check=lambda: missing_weights("efficienttam_s")),
    BackendSpec(EDGESAM_INFO, "annotator.backends.builtin.edgesam:create",
                check=lambda: missing_weights("edge_sam")),
    BackendSpec(YOLACT_INFO, "annotator.backends.builtin.yolact:create",
                check=lambda: next((None for m in YOLACT_MODELS if not missing_weights(m)),
                                   missing_weights("yolact_base"))),
    BackendSpec(MASKCLIP_INFO, "annotator.backends.builtin.maskclip:create",
                check=_maskclip_check),
    BackendSpec(OVSAM_INFO, "annotator.backends.builtin.ovsam:create", check=_ovsam_check),
)
