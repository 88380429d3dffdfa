"""`model_size=cpu|full`: network widths that follow where the compute is.

Some default widths are halved so that `make train` finishes on a laptop CPU (the DCGAN
generator: 32 base channels instead of the classic 64). `trainer=gpu` selects `model_size=full`,
the published widths; any run can choose with `model_size=cpu` or `model_size=full`. A model
config writes such a width as `${by_model_size:32,64}` (the cpu value, then the full one).
"""

from __future__ import annotations

from omegaconf import OmegaConf

from genstyle.errors import require

MODEL_SIZES = ("cpu", "full")


def by_model_size(cpu_value, full_value, *, _root_):
    size = _root_.get("model_size", "cpu")
    require(size in MODEL_SIZES, f"model_size={size!r} is not known; use cpu (widths for a CPU) or full (the published widths).")
    return cpu_value if size == "cpu" else full_value


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("by_model_size"):
        OmegaConf.register_new_resolver("by_model_size", by_model_size)
