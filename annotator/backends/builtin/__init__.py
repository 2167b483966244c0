"""Built-in backend specs: cheap objects only, no heavy imports (listed explicitly, greppable)."""

from annotator.backends.protocol import SEGMENTER, TRACKER, BackendInfo, BackendSpec

CLASSICAL_INFO = BackendInfo(
    id="classical",
    name="Classical (GrabCut + optical flow)",
    roles=frozenset({SEGMENTER, TRACKER}),
    prompts=frozenset({"point", "box", "mask"}),
    description="No weights needed: GrabCut seeded by prompts, DIS optical flow with refinement.",
    multimask=True,
)

BUILTIN_SPECS: tuple[BackendSpec, ...] = (
    BackendSpec(CLASSICAL_INFO, "annotator.backends.builtin.classical:create"),
)
