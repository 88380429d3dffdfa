"""Exemplar style transfer with a frozen perceptual encoder and AdaIN (`model=adain`).

After Huang & Belongie 2017 ("Arbitrary style transfer in real-time with adaptive instance
normalization"), sized for Fashion-MNIST. The encoder is the project's Fashion-MNIST classifier,
frozen, passed in by composition (`model.encoder`); the model reads the feature maps of its
first two stages, f1 `(B, 32, 14, 14)` and f2 `(B, 64, 7, 7)`. For a (content c, style s) pair:

    t_i = AdaIN(f_i(c), f_i(s)) = std(f_i(s)) * (f_i(c) - mean(f_i(c))) / std(f_i(c)) + mean(f_i(s))
    result = decoder(t2, skip=t1, pixels=c)

AdaIN moves the content image's feature statistics to the style image's, per channel, and the
trained decoder (`model.decoder`, nearest-neighbour upsampling + convolutions) draws an image
with those features. Only the decoder trains, on pairs (each image of a batch takes the style of
the image before it):

| term | weight |
|---|---|
| content: MSE(f2(result), t2) + MSE(f1(result), t1), the AdaIN targets | `content_weight` |
| class structure: MSE(f3(result), f3(c)) of the third stage | `structure_weight` |
| style: MSE of per-channel mean and std of f1, f2 between result and style | `style_weight` |
| texture: MSE of the Gram matrices of f1, f2 between result and style | `gram_weight` |
| pixels: MSE of mean, std and mean gradients of the pixels between result and style | `pixel_weight` |
| background: mean abs(result - content) where the content is background (black, 1 px from the garment) | `background_weight` |

With `adversarial_weight > 0` a discriminator (`model.discriminator`) judges the results against
real training images and the decoder also learns to fool it (manual optimisation, one D and one
decoder step per batch). The feature losses alone settle on a soft average of the textures they
allow; the adversarial term is meant to push the decoder to the sharp side (at weight 0.2 in a
4-minute CPU trial it did not lower the FID; docs/style-transfer.md). The recipe options of the
adversarial families (EMA of the decoder used at inference, DiffAugment, lazy R1, spectral norm;
models/recipe.py) apply; EMA also works without the discriminator.

`stylize(content, style)` is one encoder and one decoder pass (no optimisation), so it is orders
of magnitude faster than optimising every image (Gatys et al.). `sample(n)` stylizes random pairs
of a reference batch of real training images kept in the checkpoint, as the older design does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import GenstyleError, require
from genstyle.models.base import GenerativeModule, OptimizerFactory, evaluating
from genstyle.models.components.losses import AdversarialLoss
from genstyle.models.recipe import AdversarialRecipe, Recipe
from genstyle.models.reference_pairs import ReferencePairs
from genstyle.style_ops import (
    BACKGROUND_LEVEL,
    adain,
    background_mask,
    channel_stats,
    gram_matrix,
    pixel_statistics,
    relative_distance,
)


def background_l1(result: torch.Tensor, content: torch.Tensor, level: float = BACKGROUND_LEVEL) -> torch.Tensor:
    """Mean `|result - content|` over the pixels where the content image is background
    (`style_ops.background_mask`: black, and at least one pixel away from anything brighter, so the
    garment's own edge may soften): the benchmark's background change, genstyle.metrics.background,
    as a loss. 0 when no image of the batch has background."""
    mask = background_mask(content, level=level).to(result.dtype)  # (B, 1, H, W)
    change = (result - content).abs().mean(dim=1, keepdim=True)
    return (change * mask).sum() / mask.sum().clamp(min=1.0)


class AdaINTransfer(AdversarialRecipe, ReferencePairs, GenerativeModule):
    family = "adain"

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        content_weight: float = 1.0,
        structure_weight: float = 5.0,
        style_weight: float = 10.0,
        gram_weight: float = 50.0,
        pixel_weight: float = 10.0,
        background_weight: float = 0.0,
        reference_size: int = 32,
        monitor: str | None = None,
        monitor_mode: str = "min",
        adversarial_weight: float = 0.0,
        discriminator: nn.Module | None = None,
        d_optimizer: OptimizerFactory | None = None,
        loss: str = "non_saturating",
        recipe: Recipe | None = None,
    ) -> None:
        super().__init__(image_shape, None, monitor, monitor_mode)
        weights = {
            "content": content_weight, "structure": structure_weight, "style": style_weight,
            "gram": gram_weight, "pixel": pixel_weight, "background": background_weight, "adversarial": adversarial_weight,
        }  # fmt: skip
        for key, value in weights.items():
            require(value >= 0, f"model.{key}_weight={value} must be >= 0.")
        require(reference_size >= 2, f"model.reference_size={reference_size} must be >= 2 (sample() pairs two different images).")
        require(
            callable(getattr(encoder, "stage_outputs", None)),
            f"model.encoder is a {type(encoder).__name__}, which has no stage_outputs(x, n); this model takes the "
            "Fashion-MNIST classifier network (model.encoder._target_: genstyle.classifier.fashion_classifier.load_classifier, which builds it frozen).",
        )
        self.encoder = encoder.eval().requires_grad_(False)  # frozen: the perceptual feature network
        self.decoder = decoder
        self.optimizer_factory = optimizer
        self.weights = weights
        self.adversarial_on = adversarial_weight > 0
        if self.adversarial_on:
            require(
                discriminator is not None and d_optimizer is not None,
                f"model.adversarial_weight={adversarial_weight} needs model.discriminator and model.d_optimizer "
                "(conf/model/adain.yaml has both); or set model.adversarial_weight=0.",
            )
            self.automatic_optimization = False
            self.discriminator, self.d_optimizer_factory = discriminator, d_optimizer
            self.adversarial = AdversarialLoss(loss)
        self.init_reference(reference_size)  # real training images sample() draws pairs from
        self.check_networks()
        self.init_recipe({"decoder": decoder}, [discriminator] if self.adversarial_on else [], recipe)

    def check_networks(self) -> None:
        """One tiny pass at build time: the frozen encoder fixes the image shape the model can take."""
        try:
            with torch.no_grad():
                out = self.transfer(torch.zeros(2, *self.image_shape), torch.zeros(2, *self.image_shape))
        except (RuntimeError, GenstyleError) as err:
            raise GenstyleError(
                f"model=adain uses the Fashion-MNIST classifier as its frozen encoder, so it works on 1x28x28 "
                f"images; these data have shape {self.image_shape} ({err}). For other data use model=munit."
            ) from None
        require(
            tuple(out.shape[1:]) == self.image_shape,
            f"The decoder makes images of shape {tuple(out.shape[1:])} from {self.image_shape} inputs; check "
            "model.decoder.deep_channels / skip_channels against the encoder's first two stage widths.",
        )

    def train(self, mode: bool = True) -> AdaINTransfer:
        super().train(mode)
        self.encoder.eval()  # batch norm of the frozen encoder keeps its running statistics
        return self

    @property
    def loss_feature_networks(self) -> tuple[str, ...]:
        # Every loss term is computed in the encoder's features: scoring the model there grades it
        # on its own loss. The loaders attach the weights file's hash (none for an in-memory network).
        sha = getattr(self.encoder, "weights_sha256", None)
        return (sha,) if sha else ()

    # --- the model ---------------------------------------------------------------------------

    def features(self, x: torch.Tensor, n_stages: int = 2) -> list[torch.Tensor]:
        return self.encoder.stage_outputs(x, n_stages)

    def transfer(self, content: torch.Tensor, style: torch.Tensor, decoder: nn.Module | None = None, alpha: float = 1.0) -> torch.Tensor:
        """Differentiable in the decoder: AdaIN on both stages, taken `alpha` of the way from the
        content's own features, `t = alpha AdaIN(f(c), f(s)) + (1 - alpha) f(c)` (Huang & Belongie's
        test-time strength), then decode (with `decoder`, by default the trained one)."""
        (c1, c2), (s1, s2) = self.features(content), self.features(style)
        t1, t2 = adain(c1, s1), adain(c2, s2)
        if alpha != 1.0:  # alpha 1 stays bit for bit what the decoder was trained on
            t1, t2 = alpha * t1 + (1 - alpha) * c1, alpha * t2 + (1 - alpha) * c2
        return (decoder or self.decoder)(t2, t1, content)

    @property
    def stylize_options(self) -> tuple[str, ...]:
        return ("alpha",)

    def stylize(
        self, content: torch.Tensor, style: torch.Tensor, *, content_labels=None, style_labels=None, alpha: float = 1.0
    ) -> torch.Tensor:
        """Images with the structure of `content` and the style of `style`, `(B, C, H, W)` in
        [-1, 1]. `style` has B images or one, which is then used for every content image. No class
        labels: given ones are refused (`check_stylize_inputs`). `alpha` in [0, 1]: how far the
        decoder's targets move from the content's own features (0) to the style's statistics (1)."""
        require(0.0 <= float(alpha) <= 1.0, f"alpha={alpha} must be in [0, 1] (0: the content's own features, 1: full AdaIN).")
        content, style = self.check_stylize_inputs(content, style, content_labels, style_labels)
        with evaluating(self):
            return self.transfer(content, style, self.inference_network("decoder"), float(alpha))

    # --- training ----------------------------------------------------------------------------

    def losses(self, x: torch.Tensor, decoder: nn.Module | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Loss terms for a batch `x` where image i takes the style of image i-1, and the results
        (drawn by `decoder`, by default the trained one)."""
        style = torch.roll(x, 1, dims=0)
        (c1, c2, c3), (s1, s2) = self.features(x, 3), self.features(style)
        t1, t2 = adain(c1, s1), adain(c2, s2)
        result = (decoder or self.decoder)(t2, t1, x)
        r1, r2, r3 = self.features(result, 3)
        style_terms = []
        for r, s in ((r1, s1), (r2, s2)):
            (rm, rs), (sm, ss) = channel_stats(r), channel_stats(s)
            style_terms.append(F.mse_loss(rm, sm) + F.mse_loss(rs, ss))
        terms = {
            "content": F.mse_loss(r2, t2) + F.mse_loss(r1, t1),
            "structure": F.mse_loss(r3, c3),
            "style": sum(style_terms),
            "gram": F.mse_loss(gram_matrix(r1), gram_matrix(s1)) + F.mse_loss(gram_matrix(r2), gram_matrix(s2)),
            "pixel": F.mse_loss(pixel_statistics(result), pixel_statistics(style)),
            "background": background_l1(result, x),
        }
        return terms, result

    def weighted(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[k] * v for k, v in terms.items())

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        x = batch["image"]  # (B, C, H, W)
        require(len(x) >= 2, "model=adain needs batches of at least 2 images (each image borrows another's style).")
        self.remember(x)
        if self.adversarial_on:
            return self.adversarial_training_step(x)
        terms, _ = self.losses(x)
        loss = self.weighted(terms)
        self.log_dict({"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in terms.items()}}, on_step=True, on_epoch=True, batch_size=len(x))
        return loss

    def optimizer_step(self, *args, **kwargs) -> None:
        """Automatic optimisation (no discriminator): the decoder step, then the EMA update. Here
        rather than in `on_train_batch_end`, which runs after the callbacks' hook: the mid-epoch
        checkpoint of this batch must already hold the update. (The adversarial path is manual and
        updates the EMA after each decoder step.)"""
        super().optimizer_step(*args, **kwargs)
        self.update_ema()

    def adversarial_training_step(self, x: torch.Tensor) -> None:  # manual optimisation: nothing to return
        """One D step (real images against the detached results), then one decoder step with the
        feature losses plus the adversarial term. The results and feature losses are computed once,
        before the D step: it does not change the decoder, so the decoder step reuses them."""
        opt_decoder, opt_d = self.optimizers()
        terms, result = self.losses(x)

        def d_step() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            r1_due = self.r1_due()
            real_in = self.r1_input(x, r1_due)
            real_logits, fake_logits = self.discriminator(self.augment(real_in)), self.discriminator(self.augment(result.detach()))
            d_loss = self.add_r1(self.adversarial.d_loss(real_logits, fake_logits), r1_due, len(x), (real_logits, real_in))
            return d_loss, real_logits, fake_logits

        (d_loss, real_logits, fake_logits), grad_norm_d = self.adversarial_step("d", opt_d, d_step, self.discriminator.parameters())

        def decoder_step() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            terms["adversarial"] = self.adversarial.g_loss(self.discriminator(self.augment(result)))
            return self.weighted(terms), terms

        (loss, terms), grad_norm_g = self.adversarial_step("g", opt_decoder, decoder_step, self.decoder.parameters())
        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)
        self.log_dict(
            {
                "train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in terms.items()},
                "train/d_loss": d_loss.detach(),
                "train/d_real_acc": real_acc, "train/d_fake_acc": fake_acc,
                "stability/grad_norm_d": grad_norm_d, "stability/grad_norm_g": grad_norm_g,
            },
            on_step=True, on_epoch=True, batch_size=len(x),
        )  # fmt: skip

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["image"]
        if len(x) < 2:
            return  # a last batch of one image has no other image to borrow a style from
        terms, result = self.losses(x, self.inference_network("decoder"))  # what stylize() would draw
        style = torch.roll(x, 1, dims=0)
        self.log_dict(
            {
                "val/loss": self.weighted(terms),
                **{f"val/{k}": v for k, v in terms.items()},
                # 0 = the style image's pixel statistics, 1 = the content image's own.
                "val/style_stat_dist": relative_distance(pixel_statistics(result), pixel_statistics(style), pixel_statistics(x)),
            },
            on_epoch=True, batch_size=len(x),
        )  # fmt: skip

    def configure_optimizers(self) -> torch.optim.Optimizer | list[torch.optim.Optimizer]:
        decoder = self.optimizer_factory(self.decoder.parameters())
        if self.adversarial_on:
            return [decoder, self.d_optimizer_factory(self.discriminator.parameters())]
        return decoder
