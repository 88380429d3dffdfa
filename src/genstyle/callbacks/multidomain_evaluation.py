"""StarGAN v2's evaluation protocol for models that translate between many domains.

A model qualifies when it has `translate(x, target_domain, z=...)`, `stylize(content, style,
style_labels=...)` and `domain_names()` (stargan_v2). On a labelled split (the test split by
default), for every target domain:

- the first `per_source` images of each other domain are translated into it, latent-guided (one
  noise draw each) and reference-guided (one random real image of the target domain each);
- FID of those translations against all real images of the target domain (`val/fid_latent`,
  `val/fid_reference`: the mean over target domains; `val/fid_latent_<domain>` per domain);
- the share the Fashion-MNIST network assigns to the target domain (`val/target_share_*`, only
  when the domains are the Fashion-MNIST classes and a Fashion-MNIST network is the extractor);
- diversity: `num_outputs` results for each of `diversity_inputs` inputs (different noise, or
  different references), mean pairwise distance of their features (`val/diversity_feature_*`), and
  the same figure for groups of real images of the target domain (`val/diversity_feature_real`);
- source dependence: `dependence_sources` images of the other domains translated with one
  reference (one noise draw), the spread of the results over the spread of the sources
  (`genstyle.metrics.source_dependence`; 1 = the results vary as their sources, 0 = every source
  gives the same result), in features (`val/source_dependence_reference`, `..._latent`, and their
  mean `val/source_dependence`) and pixels (`val/source_dependence_reference_pixel`, ...).

The features are the evaluation backend's: at 28x28 gray the network of `metrics.judge_extractor`
(by default `fmnist-independent`, which no model trains against), Inception-V3 otherwise. The numbers are not LPIPS and not comparable with the paper's Inception FIDs at 28 px.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from genstyle.data.sources import FASHION_MNIST_CLASSES
from genstyle.errors import require
from genstyle.metrics.backends import FASHION_NETWORKS, FeatureBackend
from genstyle.metrics.multidomain import (
    domain_fids,
    mean_pairwise_distance,
    real_groups,
    summary_logs,
    target_share,
)
from genstyle.metrics.source_dependence import grid_dependence
from genstyle.pixels import to_model_range

MODES = ("latent", "reference")


@dataclass
class MultiDomainSettings:
    per_source: int = 20  # source images per (source, target) pair
    diversity_inputs: int = 3  # inputs per target domain whose diverse results are compared
    num_outputs: int = 10  # results per input for diversity (StarGAN v2: 10)
    real_per_domain: int | None = 1000  # real images per domain for its FID statistics (None: all)
    seed: int = 0
    batch_size: int = 256
    dependence_sources: int = 16  # sources per target domain for source dependence

    def __post_init__(self) -> None:
        require(self.per_source >= 1 and self.diversity_inputs >= 1, "per_source and diversity_inputs must be >= 1.")
        require(self.dependence_sources >= 2, f"dependence_sources={self.dependence_sources} must be >= 2 (a spread needs two).")
        require(self.num_outputs >= 2, f"num_outputs={self.num_outputs} must be >= 2 (diversity compares pairs).")


def has_domains(model) -> bool:
    """The capability this evaluation needs: translation to named target domains."""
    return all(callable(getattr(model, name, None)) for name in ("translate", "stylize", "domain_names"))


@torch.no_grad()
def _run(model, content: torch.Tensor, target: int, mode: str, extra: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Translations `(N, C, H, W)` in [-1, 1] on the CPU: `extra` is noise `(N, latent_dim)`
    (latent-guided) or uint8 reference images `(N, C, H, W)` of the target domain."""
    out = []
    for x, e in zip(content.split(batch_size), extra.split(batch_size), strict=True):
        x = to_model_range(x).to(model.device)
        if mode == "latent":
            out.append(model.translate(x, target, z=e.to(model.device)).float().cpu())
        else:
            out.append(model.stylize(x, to_model_range(e).to(model.device), style_labels=target).float().cpu())
    return torch.cat(out)


def evaluate_multidomain(
    model, images: torch.Tensor, labels: torch.Tensor, backend: FeatureBackend, settings: MultiDomainSettings | None = None
) -> tuple[dict[str, float], dict]:
    """`images` uint8 `(N, C, H, W)` with domains `labels` `(N,)` -> (logged numbers, protocol)."""
    settings = settings or MultiDomainSettings()
    require(has_domains(model), f"{type(model).__name__} has no target domains to evaluate (needs translate, stylize and domain_names).")
    names = list(model.domain_names())
    generator = torch.Generator().manual_seed(settings.seed)
    by_domain = {d: (labels == d).nonzero().flatten()[: settings.real_per_domain] for d in range(len(names))}
    empty = [names[d] for d, idx in by_domain.items() if len(idx) < settings.num_outputs]
    require(not empty, f"Multi-domain evaluation needs at least {settings.num_outputs} real images per domain; too few in: {', '.join(empty)}.")
    classify = getattr(backend, "name", "") in FASHION_NETWORKS and tuple(names) == FASHION_MNIST_CLASSES

    real_features = {d: backend(images[idx])["features"] for d, idx in by_domain.items()}
    fake_features: dict[str, dict[int, torch.Tensor]] = {m: {} for m in MODES}
    logits: dict[str, list[torch.Tensor]] = {m: [] for m in MODES}
    targets: list[torch.Tensor] = []
    diversity: dict[str, list[torch.Tensor]] = {m: [] for m in MODES}
    real_div: list[torch.Tensor] = []
    dependence: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    dependence_generator = torch.Generator().manual_seed(settings.seed + 1)  # its own: the draws above stay as they were
    k = settings.num_outputs
    for target, target_idx in by_domain.items():
        source = torch.cat([by_domain[s][: settings.per_source] for s in by_domain if s != target])
        content = images[source]
        references = images[target_idx[torch.randint(len(target_idx), (len(source),), generator=generator)]]
        noise = torch.randn(len(source), model.latent_dim, generator=generator)
        targets.append(torch.full((len(source),), target))
        # Diversity inputs spread over the source domains; each repeated k times.
        picks = source[torch.linspace(0, len(source) - 1, settings.diversity_inputs).long()]
        repeated = images[picks].repeat_interleave(k, dim=0)
        div_refs = images[target_idx[torch.randint(len(target_idx), (len(repeated),), generator=generator)]]
        div_noise = torch.randn(len(repeated), model.latent_dim, generator=generator)
        for mode in MODES:
            fakes = _run(model, content, target, mode, noise if mode == "latent" else references, settings.batch_size)
            out = backend(fakes)
            fake_features[mode][target] = out["features"]
            logits[mode].append(out["logits"])
            varied = _run(model, repeated, target, mode, div_noise if mode == "latent" else div_refs, settings.batch_size)
            diversity[mode].append(backend(varied)["features"].view(settings.diversity_inputs, k, -1))
        real_div.append(real_groups(real_features[target], k, settings.diversity_inputs, generator))
        # Source dependence: distinct sources spread over the other domains, one reference (one noise draw) for all.
        spread_picks = source[torch.linspace(0, len(source) - 1, min(settings.dependence_sources, len(source))).long().unique()]
        sources = images[spread_picks]
        one_reference = images[target_idx[torch.randint(len(target_idx), (1,), generator=dependence_generator)]]
        one_noise = torch.randn(1, model.latent_dim, generator=dependence_generator)
        for mode in MODES:
            extra = one_noise.repeat(len(sources), 1) if mode == "latent" else one_reference.repeat(len(sources), 1, 1, 1)
            results = _run(model, sources, target, mode, extra, settings.batch_size)
            dependence[mode].append(grid_dependence(results[None], to_model_range(sources)[None], lambda x: backend(x)["features"]))

    fids = {m: domain_fids(fake_features[m], real_features) for m in MODES}
    shares = {m: target_share(torch.cat(logits[m]), torch.cat(targets)) for m in MODES} if classify else {}
    div = {m: mean_pairwise_distance(torch.cat(diversity[m])) for m in MODES}
    div["real"] = mean_pairwise_distance(torch.cat(real_div))
    logs = summary_logs(fids, shares, div, names)
    for mode in MODES:  # the mean over target domains
        for key in ("source_dependence", "source_dependence_pixel"):
            values = [d[key] for d in dependence[mode]]
            logs[f"val/{key.replace('dependence', f'dependence_{mode}')}"] = sum(values) / len(values)
    logs["val/source_dependence"] = sum(logs[f"val/source_dependence_{m}"] for m in MODES) / len(MODES)
    protocol = {
        "protocol": "StarGAN v2 (per target domain: translations of all other domains' images vs its real images)",
        "extractor": getattr(backend, "name", type(backend).__name__),
        "extractor_weights_sha256": getattr(backend, "weights_sha256", None),
        "real_images_per_domain": {names[d]: len(idx) for d, idx in by_domain.items()},
        "translations_per_target": {names[d]: len(f) for d, f in fake_features["latent"].items()},
        "diversity": f"mean pairwise L2 of {k} results' features for {settings.diversity_inputs} inputs per target domain (not LPIPS)",
        "source_dependence": f"up to {settings.dependence_sources} sources of the other domains per target domain, one reference "
        "(one noise draw) each; spread of the results / spread of the sources, in features and pixels, mean over target domains",
        "target_share": f"{backend.name} class predictions" if classify else "not computed (domains are not the Fashion-MNIST classes)",
        **asdict(settings),
    }
    return logs, protocol


class MultiDomainEvaluation:
    """The evaluator `callbacks.evaluation` uses for models with target domains (`has_domains`) on
    labelled data: the protocol above on the `reference_split` images, about `num_samples`
    translations per guidance mode (spread evenly over the (source, target) pairs). Logs the
    numbers of `evaluate_multidomain` and `val/fid`, the mean of `val/fid_latent` and
    `val/fid_reference` (what checkpoints and sweeps monitor)."""

    def __init__(self, settings, report, num_samples: int, seed: int, batch_size: int, reference_split: str) -> None:
        self.settings, self.report = settings, report
        self.num_samples, self.seed, self.batch_size, self.reference_split = num_samples, seed, batch_size, reference_split
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.protocol_info: dict = {}

    def prepare(self, datamodule, backend: FeatureBackend, image_size: int, channels: int) -> None:
        data = datamodule.load_split(self.reference_split)
        require(
            getattr(data, "labels", None) is not None,
            f"Multi-domain evaluation needs the labels of the {self.reference_split} split (the domains); this data has none.",
        )
        self.images, self.labels = data.images, data.labels
        self.dataset = datamodule.dataset

    def protocol(self) -> dict:
        return {"eval_seed": self.seed, "eval_protocol": "stargan_v2 multi-domain", "eval_split": f"{self.dataset}:{self.reference_split}"}

    def _settings(self, num_domains: int) -> MultiDomainSettings:
        per_source = max(1, self.num_samples // (num_domains * (num_domains - 1)))
        return MultiDomainSettings(per_source=per_source, seed=self.seed, batch_size=self.batch_size)

    def measure(self, trainer, pl_module, backend: FeatureBackend, in_validation: bool):
        logged, protocol = evaluate_multidomain(pl_module, self.images, self.labels, backend, self._settings(len(pl_module.domain_names())))
        logged["val/fid"] = (logged["val/fid_latent"] + logged["val/fid_reference"]) / 2
        return logged, protocol

    def write(self, trainer, epoch: int, logged: dict, seconds: float, measured) -> None:
        self.report.write(trainer, epoch, logged, seconds, protocol=measured)
        lower = ["fid", "fid_latent", "fid_reference"]
        higher = ["target_share_latent", "target_share_reference", "diversity_feature_latent", "diversity_feature_reference"]
        for logger in self.report.wandb_loggers(trainer, lower, higher):
            logger.experiment.summary.update({f"eval_protocol/{k}": v for k, v in measured.items() if not isinstance(v, dict)})
