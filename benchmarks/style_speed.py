"""Paired timing of model=adain against the optimisation reference: the same 200 test pairs, the two
methods alternated twice in one process on one thread, best time of each (background load on a
shared machine hits both alike).

    OMP_NUM_THREADS=1 python benchmarks/style_speed.py outputs/runs/adain/checkpoints/last.ckpt
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import time  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(1)
from genstyle.checkpoints import load_model  # noqa: E402
from genstyle.classifier.fashion_classifier import load_classifier  # noqa: E402
from genstyle.data.sources import load_fashion_mnist  # noqa: E402
from genstyle.stylization.optimise import optimise_style  # noqa: E402

test = load_fashion_mnist("test", None, None, False)
x = test.images[:200].float() / 127.5 - 1
s = test.images[200:400].float() / 127.5 - 1
model, _ = load_model(sys.argv[1])
clf = load_classifier()
res = {"model": [], "opt": []}
for _ in range(2):
    t = time.perf_counter()
    model.stylize(x, s)
    res["model"].append((time.perf_counter() - t) / 200)
    t = time.perf_counter()
    optimise_style(x, s, clf)
    res["opt"].append((time.perf_counter() - t) / 200)
m, o = min(res["model"]), min(res["opt"])
print(f"adain {m:.2e} s/image, optimisation {o:.2e} s/image, ratio {o/m:.0f}x (200 pairs at once, 1 thread, best of 2 alternations)")
