"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

G: A -> B and F: B -> A, discriminators D_A (real A vs F(B)) and D_B (real B vs G(A)). Losses:
adversarial (least squares by default), cycle consistency |F(G(a)) - a| and |G(F(b)) - b|, and
identity |F(a) - a|, |G(b) - b| (weight `lambda_cycle * lambda_identity`). Naming: a suffix `_a`
means "measured on domain-A images", `a2b` means "the A -> B generator G".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from genstyle.directions import DIRECTIONS, DOMAINS, target_domain
from genstyle.errors import GenstyleError, require
from genstyle.models.base import (
    GenerativeModule,
    OptimizerFactory,
    check_positive,
    evaluating,
)
from genstyle.models.components.image_pool import ImagePool
from genstyle.models.components.losses import GAN_LOSS_MODES, AdversarialLoss
from genstyle.models.recipe import AdversarialRecipe, Recipe

LOSS_ALIASES = {"vanilla": "non_saturating"}  # the CycleGAN code's name for the BCE loss
RESUME_KEY = "cyclegan_resume"  # checkpoint section: image pools and the cached domain-A images
NetworkFactory = Callable[[], nn.Module]  # a `_partial_: true` network config


class LinearDecay:
    """LR factor for epoch e: 1 until `start`, then linear towards 0, reaching 1/(total-start+1)
    in the last epoch (as the CycleGAN code, which never trains an epoch at lr 0). A class, not a
    lambda, so LambdaLR stores its state in checkpoints."""

    def __init__(self, start: int, total: int) -> None:
        self.start, self.total = start, total

    def __call__(self, epoch: int) -> float:
        if epoch < self.start:
            return 1.0
        return max(0.0, 1.0 - (epoch - self.start + 1) / (self.total - self.start + 1))


class CycleGAN(AdversarialRecipe, GenerativeModule):
    """Manual optimisation: one G step (both generators) then one D step (both discriminators,
    on pooled, detached fakes) per batch; LambdaLR schedulers stepped once per epoch."""

    family = "cyclegan"
    compiled_networks = ("gen_a2b", "gen_b2a", "disc_a", "disc_b")

    def __init__(
        self,
        generator: NetworkFactory,
        discriminator: NetworkFactory,
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        loss: str = "lsgan",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        decay_start_epoch: int | None = None,
        identity_alarm: float = 0.02,
        domain_classes: tuple[str | None, str | None] | None = None,
        grid_size: int = 8,
        sample_pool_size: int = 64,
        monitor: str | None = None,
        monitor_mode: str = "min",
        recipe: Recipe | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(image_shape, None, monitor, monitor_mode, compile=compile)
        loss = LOSS_ALIASES.get(loss, loss)
        require(
            loss in GAN_LOSS_MODES,
            f"model.loss={loss!r} is not known; choose one of lsgan, vanilla, {', '.join(m for m in GAN_LOSS_MODES if m != 'lsgan')}.",
        )
        check_positive("model.lambda_cycle", lambda_cycle)
        require(lambda_identity >= 0, f"model.lambda_identity={lambda_identity} must be >= 0 (0 turns the identity loss off).")
        require(decay_start_epoch is None or decay_start_epoch >= 0, f"model.decay_start_epoch={decay_start_epoch} must be >= 0 or null.")
        require(identity_alarm >= 0, f"model.identity_alarm={identity_alarm} must be >= 0.")
        require(grid_size >= 1 and sample_pool_size >= 1, "model.grid_size and model.sample_pool_size must be >= 1.")
        self.automatic_optimization = False
        self.gen_a2b, self.gen_b2a = generator(), generator()  # G: A -> B, F: B -> A
        self.disc_a, self.disc_b = discriminator(), discriminator()
        # Recipe options (models/recipe.py): both generators averaged, both discriminators' inputs augmented.
        self.init_recipe({"gen_a2b": self.gen_a2b, "gen_b2a": self.gen_b2a}, [self.disc_a, self.disc_b], recipe)
        self.g_optimizer_factory, self.d_optimizer_factory = g_optimizer, d_optimizer
        self.adversarial = AdversarialLoss(loss)
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)
        self.decay_start_epoch, self.identity_alarm = decay_start_epoch, identity_alarm
        self.domain_classes = tuple(domain_classes) if domain_classes else (None, None)
        self.grid_size, self.sample_pool_size = grid_size, sample_pool_size
        # Domain-A images sample() translates (CPU; in training checkpoints for an exact resume, not
        # loaded by `load_model`). The grids of A, G(A), F(G(A)), ... are drawn by
        # callbacks/translation_views.py with `grid_size` images per row.
        self._sample_source: list[torch.Tensor] = []
        self._train_source: list[torch.Tensor] = []
        self._gap = [0.0, 0]

    # --- checkpoints: what an exact resume needs beyond the weights ----------------------------

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[RESUME_KEY] = {
            "pool_a": self.pool_a.state_dict(),
            "pool_b": self.pool_b.state_dict(),
            "sample_source": [t.clone() for t in self._sample_source],
            "train_source": [t.clone() for t in self._train_source],
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get(RESUME_KEY)
        if state is None:  # a checkpoint written before these were saved: resumes, not exactly
            return
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)
        self._sample_source = list(state["sample_source"])
        self._train_source = list(state["train_source"])

    # --- the interface ------------------------------------------------------------------------

    def generator_for(self, direction: str) -> nn.Module:
        require(direction in DIRECTIONS, f"direction={direction!r} is not known; use a2b (A -> B) or b2a (B -> A).")
        return self.inference_network("gen_a2b" if direction == "a2b" else "gen_b2a")  # the EMA copy when kept

    @torch.no_grad()
    def translate(self, x: torch.Tensor, target: str) -> torch.Tensor:
        """`(B, C, H, W)` in [-1, 1] of the other domain -> the same shape in the domain `target`,
        "b" (G: A -> B) or "a" (F: B -> A); `directions.target_domain("a2b")` is "b"."""
        require(
            target in DOMAINS,
            f"target={target!r} is not a domain of this model; translate into 'b' (A -> B) or 'a' (B -> A)"
            + (f" (the direction {target} translates into {target_domain(target)!r})." if target in DIRECTIONS else "."),
        )
        generator = self.generator_for("a2b" if target == "b" else "b2a")
        x = self.check_images(x, "translate input")
        with evaluating(self):
            return generator(x)

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """A translation model has no prior to sample from, so `sample(n)` returns G(a) for the
        first `n` domain-A images the model holds: the validation images it saw (up to
        `model.sample_pool_size`; the first training batch when the run has no validation),
        repeated in order when `n` exceeds them. Deterministic: `labels` and `generator` are
        unused. Use `translate` for anything that needs specific or many inputs (FID etc.)."""
        source = self._sample_source or self._train_source
        if not source:
            raise GenstyleError(
                "CycleGAN samples by translating domain-A images, and this model has not seen any yet (it holds "
                "them after a validation or training batch, not in a checkpoint). Call model.translate(images, "
                "'b') on your own images instead, e.g. `python stylize.py ckpt_path=... content=folder/ direction=a2b`."
            )
        images = torch.cat(source)
        index = torch.arange(n) % len(images)
        return self.translate(images[index].to(self.device), "b")

    # --- training -----------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real_a, real_b = self._unpack(batch)  # (B, C, H, W) each, unpaired
        if not self._train_source:  # what sample() and the grids show when a run has no validation
            self._train_source.append(real_a[: self.sample_pool_size].detach().cpu())
        n = len(real_a)

        # Generators, through both (frozen) discriminators.
        def g_step() -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
            fake_b, fake_a = self.gen_a2b(real_a), self.gen_b2a(real_b)
            rec_a, rec_b = self.gen_b2a(fake_b), self.gen_a2b(fake_a)
            terms = {
                "g_adv_a2b": self.adversarial.g_loss(self.disc_b(self.augment(fake_b))),
                "g_adv_b2a": self.adversarial.g_loss(self.disc_a(self.augment(fake_a))),
                "cycle_a": F.l1_loss(rec_a, real_a),
                "cycle_b": F.l1_loss(rec_b, real_b),
            }
            g_loss = terms["g_adv_a2b"] + terms["g_adv_b2a"] + self.lambda_cycle * (terms["cycle_a"] + terms["cycle_b"])
            if self.lambda_identity > 0:  # each generator should leave images of its target domain alone
                terms["idt_a"] = F.l1_loss(self.gen_b2a(real_a), real_a)
                terms["idt_b"] = F.l1_loss(self.gen_a2b(real_b), real_b)
                g_loss = g_loss + self.lambda_cycle * self.lambda_identity * (terms["idt_a"] + terms["idt_b"])
            return g_loss, terms, fake_a, fake_b

        (g_loss, terms, fake_a, fake_b), grad_norm_g = self.adversarial_step(
            "g", opt_g, g_step, [*self.gen_a2b.parameters(), *self.gen_b2a.parameters()]
        )

        # Discriminators on real images and pooled, detached fakes: this step never updates G.
        def d_step() -> tuple[torch.Tensor, ...]:
            pooled_a, pooled_b = self.pool_a.query(fake_a.detach()), self.pool_b.query(fake_b.detach())
            r1_due = self.r1_due()
            real_in_a, real_in_b = self.r1_input(real_a, r1_due), self.r1_input(real_b, r1_due)
            real_logits_a, fake_logits_a = self.disc_a(self.augment(real_in_a)), self.disc_a(self.augment(pooled_a))
            real_logits_b, fake_logits_b = self.disc_b(self.augment(real_in_b)), self.disc_b(self.augment(pooled_b))
            d_a = self.adversarial.d_loss(real_logits_a, fake_logits_a)
            d_b = self.adversarial.d_loss(real_logits_b, fake_logits_b)
            d_total = d_a + d_b
            d_total = self.add_r1(d_total, r1_due, n, (real_logits_a, real_in_a), (real_logits_b, real_in_b))
            return d_total, d_a, d_b, real_logits_a, fake_logits_a, real_logits_b, fake_logits_b

        (_, d_a, d_b, real_logits_a, fake_logits_a, real_logits_b, fake_logits_b), grad_norm_d = self.adversarial_step(
            "d", opt_d, d_step, [*self.disc_a.parameters(), *self.disc_b.parameters()]
        )

        real_acc, fake_acc = self.adversarial.accuracies(  # over both discriminators' patches
            torch.cat([real_logits_a.flatten(), real_logits_b.flatten()]), torch.cat([fake_logits_a.flatten(), fake_logits_b.flatten()])
        )
        metrics = {f"train/{k}": v.detach() for k, v in terms.items()}
        metrics |= {
            "train/g_loss": g_loss.detach(),
            "train/d_a": d_a.detach(),
            "train/d_b": d_b.detach(),
            "train/d_loss": (d_a + d_b).detach(),
            "train/d_real_acc": real_acc,
            "train/d_fake_acc": fake_acc,
            "stability/grad_norm_g": grad_norm_g,
            "stability/grad_norm_d": grad_norm_d,
        }
        self.log_dict(metrics, on_step=True, on_epoch=True, batch_size=n)
        self.log_progress({"g": g_loss.detach(), "d": (d_a + d_b).detach()})
        # This epoch's lr, logged from every batch (constant within the epoch; max keeps it exact)
        # rather than once at epoch start: a run resumed mid-epoch never calls on_train_epoch_start.
        self.log("train/lr", self.lr_schedulers()[0].get_last_lr()[0], on_step=False, on_epoch=True, reduce_fx="max", batch_size=n)

    def on_train_epoch_end(self) -> None:
        # After this epoch's validation (Lightning runs it first) and the callbacks' grids.
        for scheduler in self.lr_schedulers():
            scheduler.step()

    def configure_optimizers(self):
        max_epochs = self.trainer.max_epochs
        require(
            max_epochs is not None and max_epochs > 0,
            f"model=cyclegan decays the learning rate over the second half of trainer.max_epochs, which is "
            f"{max_epochs}; set trainer.max_epochs to a positive number.",
        )
        start = max_epochs // 2 if self.decay_start_epoch is None else self.decay_start_epoch
        require(start <= max_epochs, f"model.decay_start_epoch={start} is after trainer.max_epochs={max_epochs}.")
        opt_g = self.g_optimizer_factory([*self.gen_a2b.parameters(), *self.gen_b2a.parameters()])
        opt_d = self.d_optimizer_factory([*self.disc_a.parameters(), *self.disc_b.parameters()])
        schedulers = [LambdaLR(opt, LinearDecay(start, max_epochs)) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    # --- validation ---------------------------------------------------------------------------

    def _unpack(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if "image_b" not in batch:
            raise GenstyleError(
                "model=cyclegan needs unpaired two-domain batches (keys image and image_b); use "
                "data=fashion_unpaired (two Fashion-MNIST classes) or data=unpaired_folder (trainA/ trainB/)."
            )
        return batch["image"], batch["image_b"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        real_a, _ = self._unpack(batch)
        if not self.trainer.sanity_checking:
            if batch_idx == 0:
                self._sample_source = []
            held = sum(len(t) for t in self._sample_source)
            if held < self.sample_pool_size:
                self._sample_source.append(real_a[: self.sample_pool_size - held].detach().cpu())
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._gap = [0.0, 0]

    def _evaluate(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        real_a, real_b = self._unpack(batch)
        fake_b, fake_a = self.gen_a2b(real_a), self.gen_b2a(real_b)
        rec_a, rec_b = self.gen_b2a(fake_b), self.gen_a2b(fake_a)
        gap_a2b, gap_b2a = (fake_b - real_a).abs().mean(), (fake_a - real_b).abs().mean()
        metrics = {
            "cycle_l1_a": (rec_a - real_a).abs().mean(),
            "cycle_l1_b": (rec_b - real_b).abs().mean(),
            # Content preservation: structure shared by input and translation (1 = identical).
            "ssim_a2b": ssim(fake_b, real_a, data_range=2.0),
            "ssim_b2a": ssim(fake_a, real_b, data_range=2.0),
            # Identity collapse: a generator that returns its input has a gap near 0.
            "identity_gap_a2b": gap_a2b,
            "identity_gap_b2a": gap_b2a,
            "identity_gap": (gap_a2b + gap_b2a) / 2,
        }
        if prefix == "val" and not self.trainer.sanity_checking:
            self._gap[0] += float(metrics["identity_gap"]) * len(real_a)
            self._gap[1] += len(real_a)
        self.log_dict({f"{prefix}/{k}": v for k, v in metrics.items()}, on_epoch=True, batch_size=len(real_a))

    def on_validation_epoch_end(self) -> None:
        total, count = self._gap
        if count == 0:
            return
        gap = total / count
        alarm = gap < self.identity_alarm
        self.log("val/identity_alarm", float(alarm))
        if alarm:
            warnings.warn(
                f"Identity collapse: the generators change their inputs by only {gap:.4f} on average "
                f"(mean |G(x) - x| in [-1, 1] units, below model.identity_alarm={self.identity_alarm}) at epoch "
                f"{self.current_epoch + 1}. The translations are near copies; lower model.lambda_identity or "
                "model.lambda_cycle, or train longer.",
                stacklevel=1,
            )
