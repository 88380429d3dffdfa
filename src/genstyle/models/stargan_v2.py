"""StarGAN v2 (Choi et al. 2020): reference- and latent-guided translation between many domains.

The domains are the classes of the data (the ten Fashion-MNIST classes, or the class sub-folders of
an image folder). A style code `s` (one per domain, from noise through the mapping network F or
from a reference image through the style encoder E) drives the generator G's AdaIN layers. Per
training batch `x` with domains `y`, against a multi-task discriminator D:

- D, latent- and reference-guided: non-saturating loss on real `x` (in `y`) and on G(x, s) (in the
  target domain), plus R1 on the real images (weight `r1_gamma / 2`).
- G (and F, E), latent-guided then reference-guided: adversarial loss; style reconstruction
  |E(G(x, s), y') - s| (`lambda_sty`); diversity, minus |G(x, s1) - G(x, s2)| for two codes of the
  same target domain (`lambda_ds`, decayed linearly to 0 over `ds_decay_steps` iterations); cycle
  |G(G(x, s), E(x, y)) - x| (`lambda_cyc`); optionally structure, |edges(G(x, s)) - edges(x)| of the
  images normalised per image, so the source's layout and not its shade is kept (`lambda_struct`,
  off by default). Only G is updated by the reference-guided step.

Per batch, as in the reference solver (clovaai/stargan-v2 core/solver.py): two D steps, then the
latent-guided G step (G, F and E) and the reference-guided G step (G), then the moving averages.
Inference uses exponential moving averages of G, F and E (`use_ema`), kept by the recipe every
adversarial family shares (`model.recipe.ema`, models/recipe.py; also `model.recipe.spectral_norm`;
its DiffAugment and lazy R1 are not taken: StarGAN v2's R1 is `r1_gamma`, on every D step).
`stylize(content, style)` is reference-guided (the style image's code in its own domain),
`translate(x, target_domain)` is latent-guided, `sample(n)` translates held real training images to random domains.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from genstyle.errors import GenstyleError, require
from genstyle.models.base import GenerativeModule, OptimizerFactory
from genstyle.models.class_conditioning import ConditionalStylize, LabelConditioning
from genstyle.models.components.augment import parse_policy
from genstyle.models.components.losses import AdversarialLoss, gradient_norm, r1_penalty
from genstyle.models.components.stargan_v2_nets import structure
from genstyle.models.recipe import AdversarialRecipe, Recipe
from genstyle.pixels import to_model_range, to_uint8

DomainSpec = int | str | Sequence[int] | torch.Tensor
# Without a `model.recipe` node (Python callers): the paper's moving averages, decay 0.999.
DEFAULT_RECIPE = Recipe(ema={"decay": 0.999})

# Before the moving averages were the recipe's (models/recipe.py) they were attributes of their own:
# `generator_ema.averaged...` is now `ema.generator.averaged...`, and the recipe counts its updates.
OLD_EMA_KEYS = {f"{name}_ema.": f"ema.{name}." for name in ("generator", "mapping_network", "style_encoder")}


def current_state_dict(state_dict: Mapping[str, torch.Tensor], has_ema: bool) -> Mapping[str, torch.Tensor]:
    """`state_dict` with the old EMA keys renamed (OLD_EMA_KEYS) and, for such an old one, the
    recipe's update count filled in: one update per training iteration. Current ones unchanged."""
    if not any(key.startswith(tuple(OLD_EMA_KEYS)) for key in state_dict):
        return state_dict

    def rename(key: str) -> str:
        old = next((prefix for prefix in OLD_EMA_KEYS if key.startswith(prefix)), None)
        return OLD_EMA_KEYS[old] + key[len(old):] if old else key

    renamed = OrderedDict((rename(key), value) for key, value in state_dict.items())
    metadata = getattr(state_dict, "_metadata", None)  # per-module versions, keyed by module path
    if metadata is not None:
        renamed._metadata = OrderedDict((rename(key + ".")[:-1], value) for key, value in metadata.items())
    if has_ema and "ema_updates" not in renamed and "iteration" in renamed:
        renamed["ema_updates"] = renamed["iteration"].clone()
    return renamed


@contextmanager
def frozen(network: nn.Module) -> Iterator[None]:
    """`network`'s parameters take no gradient inside the block (D during the generator steps)."""
    network.requires_grad_(False)
    try:
        yield
    finally:
        network.requires_grad_(True)


class StarGANv2(AdversarialRecipe, ConditionalStylize, LabelConditioning, GenerativeModule):
    family = "stargan_v2"

    def __init__(
        self,
        generator: nn.Module,
        mapping_network: nn.Module,
        style_encoder: nn.Module,
        discriminator: nn.Module,
        g_optimizer: OptimizerFactory,
        mapping_optimizer: OptimizerFactory,
        style_encoder_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        num_classes: int | None = None,
        style_dim: int = 64,
        latent_dim: int = 16,
        lambda_sty: float = 1.0,
        lambda_ds: float = 1.0,
        lambda_cyc: float = 1.0,
        r1_gamma: float = 1.0,
        lambda_struct: float = 0.0,
        ds_decay_steps: int = 100_000,
        use_ema: bool = True,
        recipe: Recipe | None = None,
        sample_pool_size: int = 64,
        channels_last: bool = True,
        monitor: str | None = None,
        monitor_mode: str = "min",
    ) -> None:
        require(
            num_classes is not None,
            "model=stargan_v2 translates between the classes of the data (its domains) and needs model.num_classes "
            "(it follows data.num_classes). Use data with classes (data=fashion_mnist), or data=image_folder with one "
            "sub-folder per class and data.num_classes set to their number.",
        )
        super().__init__(image_shape, num_classes, monitor, monitor_mode)
        weights = (("lambda_sty", lambda_sty), ("lambda_ds", lambda_ds), ("lambda_cyc", lambda_cyc), ("r1_gamma", r1_gamma), ("lambda_struct", lambda_struct))
        for key, value in weights:
            require(value >= 0, f"model.{key}={value} must be >= 0.")
        require(ds_decay_steps >= 1, f"model.ds_decay_steps={ds_decay_steps} must be >= 1.")
        require(sample_pool_size >= 1, f"model.sample_pool_size={sample_pool_size} must be >= 1.")
        self.automatic_optimization = False
        self.init_conditioning()
        self.generator, self.mapping_network = generator, mapping_network
        self.style_encoder, self.discriminator = style_encoder, discriminator
        self.optimizer_factories = (g_optimizer, mapping_optimizer, style_encoder_optimizer, d_optimizer)
        self.adversarial = AdversarialLoss("non_saturating")
        self.lambdas = {"sty": lambda_sty, "ds": lambda_ds, "cyc": lambda_cyc, "r1": r1_gamma, "struct": lambda_struct}
        self.ds_decay_steps = ds_decay_steps
        require(isinstance(channels_last, bool), f"model.channels_last={channels_last!r} must be true or false.")
        self.channels_last = channels_last
        self.style_dim, self.latent_dim = style_dim, latent_dim
        self.check_networks()
        recipe = DEFAULT_RECIPE if recipe is None else Recipe.of(recipe)
        require(
            not parse_policy(recipe.augment) and not recipe.r1_on,
            "model=stargan_v2 takes model.recipe.ema and model.recipe.spectral_norm; its D sees the images as they are "
            "and its R1 is model.r1_gamma on every D step (as in the paper), so set model.recipe.augment=null and "
            f"model.recipe.r1=null (got augment={recipe.augment!r}, r1={recipe.r1!r}).",
        )
        # The moving averages of G, F and E that inference uses (`inference_networks`).
        self.init_recipe({"generator": generator, "mapping_network": mapping_network, "style_encoder": style_encoder}, [discriminator], recipe)
        self.use_ema = use_ema
        # Training iterations done (drives the diversity-weight decay; in the state dict for exact resume).
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        # Real training images (uint8) and their domains that sample() translates, kept in checkpoints.
        self.register_buffer("sample_source", torch.zeros(sample_pool_size, *self.image_shape, dtype=torch.uint8))
        self.register_buffer("sample_source_labels", torch.zeros(sample_pool_size, dtype=torch.long))
        self.register_buffer("sample_source_count", torch.zeros((), dtype=torch.long))

    def upgraded_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """A checkpoint's state dict in the current layout, also one written before the moving
        averages moved into the recipe (`OLD_EMA_KEYS`); `checkpoints.check_resumable` asks it too."""
        return current_state_dict(state_dict, self.has_ema)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also the checkpoints written before the moving averages moved into the recipe, for
        `load_model` and for Lightning's resume alike."""
        return super().load_state_dict(self.upgraded_state_dict(state_dict), strict=strict, assign=assign)

    def check_networks(self) -> None:
        """Fail at build time, naming the config keys, when the networks' settings disagree."""
        style_dims = {
            "model.style_dim": self.style_dim,
            "model.generator.style_dim": getattr(self.generator, "style_dim", None),
            "model.mapping_network.style_dim": getattr(self.mapping_network, "style_dim", None),
            "model.style_encoder.style_dim": getattr(self.style_encoder, "style_dim", None),
        }
        require(len({v for v in style_dims.values() if v is not None}) <= 1, f"The style code sizes differ: {style_dims}; set model.style_dim once.")
        mapping_latent = getattr(self.mapping_network, "latent_dim", self.latent_dim)
        require(mapping_latent == self.latent_dim, f"model.latent_dim={self.latent_dim} but model.mapping_network.latent_dim={mapping_latent}; they must match.")
        domains = {
            "model.mapping_network.num_domains": getattr(self.mapping_network, "num_domains", None),
            "model.style_encoder.num_domains": getattr(self.style_encoder, "num_domains", None),
            "model.discriminator.num_domains": getattr(self.discriminator, "num_domains", None),
        }
        require(
            all(v in (None, self.num_classes) for v in domains.values()),
            f"model.num_classes={self.num_classes} but the networks have {domains} domains; they follow model.num_classes.",
        )

    def configure_model(self) -> None:
        super().configure_model()
        if self.channels_last:
            # Training moves every network (and its average) to the channels-last layout: on a CPU
            # a 28x28 iteration is about 1.2x faster (the pooling, upsampling and small convolutions
            # of these networks), on CUDA it is the layout tensor-core convolutions prefer. Same
            # maths; checkpoints load into either layout.
            self.to(memory_format=torch.channels_last)

    # --- the networks used at inference -------------------------------------------------------

    def inference_networks(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """(G, F, E): the moving averages when the run kept them and `use_ema`, else the trained networks."""
        return tuple(self.inference_network(name) for name in ("generator", "mapping_network", "style_encoder"))

    def domain_names(self) -> list[str]:
        """The domains, in index order: the data's class names (indices as text when unknown)."""
        return self.class_names() or [str(i) for i in range(self.num_classes)]

    def domain_index(self, domain: DomainSpec, n: int, who: str = "target_domain") -> torch.Tensor:
        """A domain given as an index, a name, or one index per image -> `(n,)` indices."""
        names = self.domain_names()
        if isinstance(domain, str):
            if domain not in names:
                raise GenstyleError(f"{who}={domain!r} is not a domain of this model; the domains are {', '.join(names)} (or their indices 0..{len(names) - 1}).")
            domain = names.index(domain)
        if isinstance(domain, int) and not isinstance(domain, bool):
            require(0 <= domain < self.num_classes, f"{who}={domain} is not a domain index; use 0..{self.num_classes - 1} ({', '.join(names)}).")
            return torch.full((n,), domain, dtype=torch.long, device=self.device)
        labels = torch.as_tensor(domain)
        if labels.ndim == 0:
            return self.domain_index(int(labels), n, who)
        return self.check_labels(labels, n, who)

    @torch.no_grad()
    def style_codes(self, z: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        """Latent-guided style codes `(B, style_dim)` from noise `(B, latent_dim)`."""
        return self.inference_networks()[1](z.to(self.device), domains)

    @torch.no_grad()
    def reference_codes(self, references: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        """Reference-guided style codes `(B, style_dim)` of images in their own domains."""
        return self.inference_networks()[2](references.to(self.device), domains)

    @torch.no_grad()
    def render(self, x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """G(x, s) in eval mode, clamped to [-1, 1]."""
        was_training = self.training
        self.eval()
        out = self.inference_networks()[0](x.to(self.device), codes).clamp(-1, 1)
        self.train(was_training)
        return out

    # --- the interface ------------------------------------------------------------------------

    @torch.no_grad()
    def translate(
        self, x: torch.Tensor, target: DomainSpec, *, z: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Latent-guided: `x` `(B, C, H, W)` in [-1, 1] -> the same shape in the domain `target` (an
        index, a name, or `(B,)` indices), with style codes from noise `z` `(B, latent_dim)` (drawn,
        repeatably with `generator`, when not given)."""
        x = self.check_images(x, "translate input")
        domains = self.domain_index(target, len(x), "target")
        if z is None:
            z = self.noise(len(x), self.latent_dim, generator)
        require(tuple(z.shape) == (len(x), self.latent_dim), f"z must have shape ({len(x)}, {self.latent_dim}), got {tuple(z.shape)}.")
        was_training = self.training
        self.eval()
        codes = self.style_codes(z, domains)
        self.train(was_training)
        return self.render(x, codes)

    @property
    def stylize_labels(self) -> tuple[str, ...]:
        return ("style_labels",)  # the style image's own domain; the content's class plays no part

    @torch.no_grad()
    def stylize(
        self, content: torch.Tensor, style: torch.Tensor, *, content_labels=None, style_labels: DomainSpec | None = None
    ) -> torch.Tensor:
        """Reference-guided: `content` `(B, C, H, W)` and `style` `(B or 1, C, H, W)` in [-1, 1] ->
        `(B, C, H, W)`: the content drawn with the style image's code, taken in the style image's own
        domain (`style_labels`: an index, a name or `(B,)` indices; classified by the Fashion-MNIST
        classifier when not given, which needs a Fashion-MNIST model). `content_labels` are refused."""
        n_styles = len(style) if isinstance(style, torch.Tensor) else 0
        content, style = self.check_stylize_inputs(content, style, content_labels, style_labels)
        style = style[:n_styles]  # one code per style image given, expanded to the content batch below
        was_training = self.training
        self.eval()
        domains = self.classify(style, "style_labels") if style_labels is None else self.domain_index(style_labels, len(style), "style_labels")
        codes = self.reference_codes(style, domains)
        self.train(was_training)
        return self.render(content, codes.expand(len(content), -1))

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """`sample(n)`: latent-guided translations of the real training images the model holds (the
        first `model.sample_pool_size` it trained on, repeated in order when `n` exceeds them) to
        the domains `labels` `(n,)` (drawn from the training domain distribution when None), with
        noise drawn from `generator`."""
        count = int(self.sample_source_count)
        if count == 0:
            raise GenstyleError(
                "stargan_v2 samples by translating real images it holds after its first training batch, and this model "
                "has not trained yet. Train it, or call model.translate(images, target) on your own images."
            )
        labels = self.check_labels(labels, n)
        if labels is None:
            labels = self.sample_labels(n, generator)
        source = to_model_range(self.sample_source[torch.arange(n, device=self.sample_source.device) % count])
        return self.translate(source, labels, z=self.noise(n, self.latent_dim, generator))

    def remember(self, x: torch.Tensor, labels: torch.Tensor) -> None:
        count, size = int(self.sample_source_count), len(self.sample_source)
        if count < size:
            take = min(size - count, len(x))
            self.sample_source[count : count + take] = to_uint8(x[:take].detach()).to(self.sample_source.device)
            self.sample_source_labels[count : count + take] = labels[:take]
            self.sample_source_count += take

    # --- training -----------------------------------------------------------------------------

    def diversity_weight(self) -> float:
        """`lambda_ds`, decayed linearly to 0 over `ds_decay_steps` iterations (as in the paper)."""
        return self.lambdas["ds"] * max(0.0, 1.0 - int(self.iteration) / self.ds_decay_steps)

    def targets(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per image: a random target domain and two noise vectors (latent-guided), and two
        reference images of one target domain taken from the batch (reference-guided)."""
        n = len(x)
        perm = torch.randperm(n, device=x.device)
        y_ref = y[perm]
        # A second reference of the same domain: a random batch image with that label (the first
        # reference itself when the batch has no other one; its diversity term is then 0).
        same = (y[None, :] == y_ref[:, None]).float()  # (n, n)
        second = (same * torch.rand(n, n, device=x.device) + same).argmax(dim=1)
        return {
            "y_latent": torch.randint(self.num_classes, (n,), device=x.device),
            "z1": torch.randn(n, self.latent_dim, device=x.device),
            "z2": torch.randn(n, self.latent_dim, device=x.device),
            "y_ref": y_ref,
            "ref1": x[perm],
            "ref2": x[second],
        }

    def d_loss(self, x: torch.Tensor, y: torch.Tensor, y_trg: torch.Tensor, style_fn) -> tuple[torch.Tensor, dict]:
        x = x.detach().requires_grad_(True)
        real_logits = self.discriminator(x, y)
        r1 = r1_penalty(real_logits, x)
        with torch.no_grad():
            fake = self.generator(x.detach(), style_fn())
        fake_logits = self.discriminator(fake, y_trg)
        adv = self.adversarial.d_loss(real_logits, fake_logits)
        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)
        stats = {"r1": r1.detach(), "real_acc": real_acc, "fake_acc": fake_acc}
        return adv + 0.5 * self.lambdas["r1"] * r1, stats

    def g_loss(self, x: torch.Tensor, y: torch.Tensor, y_trg: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> tuple[torch.Tensor, dict]:
        fake = self.generator(x, s1)
        adv = self.adversarial.g_loss(self.discriminator(fake, y_trg))
        sty = (self.style_encoder(fake, y_trg) - s1).abs().mean()
        ds = (fake - self.generator(x, s2).detach()).abs().mean()
        cyc = (self.generator(fake, self.style_encoder(x, y)) - x).abs().mean()
        loss = adv + self.lambdas["sty"] * sty - self.diversity_weight() * ds + self.lambdas["cyc"] * cyc
        terms = {"adv": adv.detach(), "sty": sty.detach(), "ds": ds.detach(), "cyc": cyc.detach()}
        if self.lambdas["struct"] > 0:  # the source's layout kept: its shade-free edges against the result's
            struct = (structure(fake) - structure(x)).abs().mean()
            loss = loss + self.lambdas["struct"] * struct
            terms["struct"] = struct.detach()
        return loss, terms

    def d_step(self, opt_d, x: torch.Tensor, y: torch.Tensor, y_trg: torch.Tensor, style_fn) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """One D step: real `x` in its domains `y` against G(x, style_fn()) in `y_trg` (no gradient
        to G, F or E), R1 on the real images. Returns (loss, its terms, D's gradient norm)."""
        (loss, stats), norm = self.adversarial_step("d", opt_d, lambda: self.d_loss(x, y, y_trg, style_fn), self.discriminator.parameters())
        return loss.detach(), stats, norm

    def g_step(self, step: tuple, drop: tuple, x: torch.Tensor, y: torch.Tensor, y_trg: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """One generator-side step on the loss of G(x, s1) in `y_trg` (`s2`: the diversity term's
        second code): the optimisers in `step` step, the gradients of those in `drop` are dropped.
        Not `adversarial_step`: one loss steps up to three optimisers, and toggling one of them would
        freeze the others; the caller freezes D instead. Returns (loss, its terms, G's gradient norm)."""
        loss, terms = self.g_loss(x, y, y_trg, s1, s2)
        for opt in (*step, *drop):
            opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        norm = gradient_norm(self.generator.parameters())
        for opt in step:
            opt.step()
        for opt in drop:
            opt.zero_grad(set_to_none=True)
        return loss.detach(), terms, norm

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_f, opt_e, opt_d = self.optimizers()
        x, y = batch["image"], self.batch_labels(batch)  # (B, C, H, W), (B,)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        require(len(x) >= 2, "stargan_v2 needs batches of at least 2 images (references come from the batch).")
        self.remember(x, y)
        t = self.targets(x, y)
        y_lat, y_ref = t["y_latent"], t["y_ref"]

        # Train the discriminator: against latent-guided, then reference-guided fakes.
        d_lat = self.d_step(opt_d, x, y, y_lat, lambda: self.mapping_network(t["z1"], y_lat))
        d_ref = self.d_step(opt_d, x, y, y_ref, lambda: self.style_encoder(t["ref1"], y_ref))

        # Train the generator: latent-guided (steps G, F and E), then reference-guided (steps G only).
        with frozen(self.discriminator):
            s1, s2 = self.mapping_network(t["z1"], y_lat), self.mapping_network(t["z2"], y_lat)
            g_lat = self.g_step((opt_g, opt_f, opt_e), (), x, y, y_lat, s1, s2)
            s1, s2 = self.style_encoder(t["ref1"], y_ref), self.style_encoder(t["ref2"], y_ref)
            g_ref = self.g_step((opt_g,), (opt_f, opt_e), x, y, y_ref, s1, s2)

        self.update_ema()  # the moving averages of G, F and E (model.recipe.ema)
        lambda_ds = torch.tensor(self.diversity_weight())
        self.iteration += 1
        self.log_training(d_lat, d_ref, g_lat, g_ref, lambda_ds, len(x))

    def log_training(self, d_lat, d_ref, g_lat, g_ref, lambda_ds: torch.Tensor, batch_size: int) -> None:
        metrics: dict[str, torch.Tensor] = {}
        for guide, (loss, stats, norm) in (("latent", d_lat), ("ref", d_ref)):
            metrics["stability/grad_norm_d"] = norm
            metrics[f"train/d_loss_{guide}"] = loss
            metrics |= {f"train/d_{k}_{guide}": v for k, v in stats.items()}
        for guide, (loss, terms, norm) in (("latent", g_lat), ("ref", g_ref)):
            metrics["stability/grad_norm_g"] = norm
            metrics[f"train/g_loss_{guide}"] = loss
            metrics |= {f"train/g_{k}_{guide}": v for k, v in terms.items()}
        metrics["train/lambda_ds"] = lambda_ds
        metrics["train/d_loss"] = (metrics["train/d_loss_latent"] + metrics["train/d_loss_ref"]) / 2
        metrics["train/g_loss"] = (metrics["train/g_loss_latent"] + metrics["train/g_loss_ref"]) / 2
        self.log_dict(metrics, on_step=True, on_epoch=True, batch_size=batch_size)
        self.log_dict({"d": metrics["train/d_loss"], "g": metrics["train/g_loss"]}, prog_bar=True, logger=False)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # Cheap held-out indicators; the translation metrics (FID per domain etc.) are the callbacks'.
        x, y = batch["image"], self.batch_labels(batch)
        if len(x) < 2:
            return
        generator, mapping, encoder = self.inference_networks()
        y_trg = torch.roll(y, 1)
        ref_codes = encoder(torch.roll(x, 1, dims=0), y_trg)
        fake = generator(x, ref_codes)
        real_logits, fake_logits = self.discriminator(x, y), self.discriminator(fake, y_trg)
        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)
        z = torch.randn(len(x), self.latent_dim, device=x.device)
        self.log_dict(
            {
                "val/d_real_acc": real_acc,
                "val/d_fake_acc": fake_acc,
                "val/style_recon": (encoder(fake, y_trg) - ref_codes).abs().mean(),
                "val/cycle_l1": (generator(fake, encoder(x, y)) - x).abs().mean(),
                "val/latent_style_recon": (encoder(generator(x, mapping(z, y_trg)), y_trg) - mapping(z, y_trg)).abs().mean(),
            },
            on_epoch=True, batch_size=len(x), sync_dist=True,
        )  # fmt: skip

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        networks = (self.generator, self.mapping_network, self.style_encoder, self.discriminator)
        return [factory(network.parameters()) for factory, network in zip(self.optimizer_factories, networks, strict=True)]
