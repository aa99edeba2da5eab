"""Model-agnostic methods over one coalition engine: exact Shapley, KernelSHAP, LIME, occlusion
and (for scikit-learn MLPs) Integrated Gradients.

Each works on any model the adapter can predict with; see :mod:`.coalition` for the engine and
:mod:`.common` for the shared background, players and cost model.
"""

from xai_cli.methods.agnostic import exact, gradients, kernel, lime, occlusion

EXPLAINERS = (
    *exact.EXPLAINERS,
    *kernel.EXPLAINERS,
    *occlusion.EXPLAINERS,
    *lime.EXPLAINERS,
    *gradients.EXPLAINERS,
)
"""In the order ``auto`` prefers them: the exact answer first, then its estimate, then the
methods the field argues about."""
