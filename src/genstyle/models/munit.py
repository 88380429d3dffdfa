"""Exemplar style transfer after MUNIT (`model=munit`): a content/style autoencoder trained adversarially.

An image is split into a content map (spatial, from `content_encoder`) and a style vector (pooled,
from `style_encoder`); `decoder` rebuilds an image from any (content, style) pair through AdaIN.
Training, per batch `x` and a style donor `x[perm]` (the batch shifted by one):

- reconstruction: decode(content(x), style(x)) = x                       (L1, `recon_weight`)
- swap, adversarial: decode(content(x), style(x[perm])) must fool D       (`adv_weight`)
- swap, content: content(swapped) = content(x): the structure stays       (`content_weight`)
- swap, style:   style(swapped) = style(x[perm]): the exemplar's style     (`style_weight`)

The two code losses are L1 errors divided by the codes' spread over the batch (`normalised_l1`).

`stylize(content, style)` is the swap; `sample(n)` stylizes random (content, style) pairs drawn
from a reference batch of real training images kept in the checkpoint (`reference_size`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# from .image: the re-export in torchmetrics.functional warns (FutureWarning) on every run
from torchmetrics.functional.image import structural_similarity_index_measure

from genstyle.errors import require
from genstyle.models.base import GenerativeModule, OptimizerFactory, evaluating
from genstyle.models.components.losses import AdversarialLoss
from genstyle.models.recipe import AdversarialRecipe, Recipe
from genstyle.models.reference_pairs import ReferencePairs
from genstyle.style_ops import pixel_statistics, relative_distance


def normalised_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 error divided by the spread of the targets across the batch. Scale-free, so an encoder
    cannot satisfy the code-reconstruction losses by shrinking all its codes towards zero:
    about 0 when `pred` recovers each image's own code, about 1 or more when it does not."""
    spread = (target - target.mean(dim=0, keepdim=True)).abs().mean()
    return (pred - target).abs().mean() / spread.clamp_min(1e-6)


class MUNIT(AdversarialRecipe, ReferencePairs, GenerativeModule):
    """Recipe options (models/recipe.py): EMA of both encoders and the decoder, used by
    `stylize`/`sample`; DiffAugment and R1/spectral norm on the discriminator."""

    family = "munit"
    compiled_networks = ("content_encoder", "style_encoder", "decoder", "discriminator")

    def __init__(
        self,
        content_encoder: nn.Module,
        style_encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        loss: str = "lsgan",
        recon_weight: float = 10.0,
        adv_weight: float = 1.0,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        reference_size: int = 32,
        grid_size: int = 6,
        monitor: str | None = None,
        monitor_mode: str = "min",
        recipe: Recipe | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(image_shape, None, monitor, monitor_mode, compile=compile)
        for key, value in (("recon_weight", recon_weight), ("adv_weight", adv_weight), ("content_weight", content_weight), ("style_weight", style_weight)):
            require(value >= 0, f"model.{key}={value} must be >= 0.")
        require(reference_size >= 2, f"model.reference_size={reference_size} must be >= 2 (sample() pairs two different images).")
        require(grid_size >= 2, f"model.grid_size={grid_size} must be >= 2.")
        self.automatic_optimization = False
        self.content_encoder, self.style_encoder = content_encoder, style_encoder
        self.decoder, self.discriminator = decoder, discriminator
        self.g_optimizer_factory, self.d_optimizer_factory = g_optimizer, d_optimizer
        self.adversarial = AdversarialLoss(loss)
        self.weights = {"recon": recon_weight, "adv": adv_weight, "content": content_weight, "style": style_weight}
        self.grid_size = grid_size
        self.init_reference(reference_size)  # real training images sample() draws pairs from
        self.check_networks()
        inference = {"content_encoder": content_encoder, "style_encoder": style_encoder, "decoder": decoder}
        self.init_recipe(inference, [discriminator], recipe)

    def check_networks(self) -> None:
        """One tiny forward pass at build time, so mismatched network settings fail with the
        config keys to fix instead of a shape error deep inside training."""
        width = getattr(self.content_encoder, "out_channels", None)
        expected = getattr(self.decoder, "content_channels", None)
        require(
            width is None or expected is None or width == expected,
            f"model.decoder.content_channels={expected} but the content encoder outputs {width} channels "
            f"(model.content_encoder.base_channels * 2**n_down); set model.decoder.content_channels={width}.",
        )
        with torch.no_grad():
            x = torch.zeros(2, *self.image_shape)
            out = self.decode(*self.encode(x))
        require(
            tuple(out.shape[1:]) == self.image_shape,
            f"The decoder makes images of shape {tuple(out.shape[1:])} from {self.image_shape} inputs; "
            "model.decoder.n_up must equal model.content_encoder.n_down.",
        )

    # --- the model ---------------------------------------------------------------------------

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, C, H, W)` -> content map `(B, K, h, w)`, style vector `(B, style_dim)`."""
        return self.content_encoder(x), self.style_encoder(x)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.decoder(content, style)

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor, *, content_labels=None, style_labels=None) -> torch.Tensor:
        """Images with the structure of `content` and the style of `style`, `(B, C, H, W)` in
        [-1, 1]. `style` has B images or one, which is then used for every content image. No class
        labels: given ones are refused (`check_stylize_inputs`)."""
        content, style = self.check_stylize_inputs(content, style, content_labels, style_labels)
        with evaluating(self):
            content_encoder, style_encoder = self.inference_network("content_encoder"), self.inference_network("style_encoder")
            style_code = style_encoder(style)  # the EMA networks when the run kept them
            return self.inference_network("decoder")(content_encoder(content), style_code)

    # --- training ----------------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        x = batch["image"]  # (B, C, H, W)
        require(len(x) >= 2, "model=munit needs batches of at least 2 images (each image borrows another's style).")
        self.remember(x)
        donor = torch.roll(torch.arange(len(x), device=x.device), 1)  # image i takes the style of image i-1

        # Discriminator: real images vs detached swaps.
        def d_step() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            with torch.no_grad():
                content, style = self.encode(x)
                swapped = self.decode(content, style[donor])
            r1_due = self.r1_due()
            real_in = self.r1_input(x, r1_due)
            real_logits, fake_logits = self.discriminator(self.augment(real_in)), self.discriminator(self.augment(swapped))
            d_loss = self.adversarial.d_loss(real_logits, fake_logits)
            d_loss = self.add_r1(d_loss, r1_due, len(x), (real_logits, real_in))
            return d_loss, real_logits, fake_logits

        (d_loss, real_logits, fake_logits), grad_norm_d = self.adversarial_step("d", opt_d, d_step, self.discriminator.parameters())

        # Encoders and decoder: reconstruction plus the three swap losses.
        def g_step() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            content, style = self.encode(x)
            recon = self.decode(content, style)
            swapped = self.decode(content, style[donor])
            swapped_content, swapped_style = self.encode(swapped)
            terms = {
                "recon": F.l1_loss(recon, x),
                "adv": self.adversarial.g_loss(self.discriminator(self.augment(swapped))),
                "content": normalised_l1(swapped_content, content),
                "style": normalised_l1(swapped_style, style[donor]),
            }
            return sum(self.weights[k] * v for k, v in terms.items()), terms

        (g_loss, terms), grad_norm_g = self.adversarial_step(
            "g", opt_g, g_step, [p for m in (self.content_encoder, self.style_encoder, self.decoder) for p in m.parameters()]
        )

        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)
        metrics = {
            "train/d_loss": d_loss.detach(),
            "train/g_loss": g_loss.detach(),
            "train/recon": terms["recon"].detach(),
            "train/adv": terms["adv"].detach(),
            "train/content_recon": terms["content"].detach(),
            "train/style_recon": terms["style"].detach(),
            "train/d_real_acc": real_acc,
            "train/d_fake_acc": fake_acc,
            "stability/grad_norm_d": grad_norm_d,
            "stability/grad_norm_g": grad_norm_g,
        }
        self.log_dict(metrics, on_step=True, on_epoch=True, batch_size=len(x))
        self.log_progress({"d": d_loss.detach(), "g": g_loss.detach()})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x = batch["image"]
        if len(x) < 2:
            return  # a last batch of one image has no other image to borrow a style from
        style_img = torch.roll(x, 1, dims=0)
        content, style_code = self.encode(x)
        result = self.decode(content, style_code[torch.roll(torch.arange(len(x), device=x.device), 1)])
        recon = self.decode(content, style_code)
        result01, x01, style01 = (result + 1) / 2, (x + 1) / 2, (style_img + 1) / 2
        self.log_dict(
            {
                "val/recon_l1": F.l1_loss(recon, x),
                # Content fidelity: structure of the content image kept in the result (1 = identical).
                "val/content_ssim": structural_similarity_index_measure(result01, x01, data_range=1.0),
                # The same SSIM against the style image: content_ssim should stay well above it.
                "val/ssim_to_style": structural_similarity_index_measure(result01, style01, data_range=1.0),
                # Style fidelity, 0 = the exemplar's style, 1 = the content image's own style:
                # in the model's style space, and in fixed intensity/gradient statistics.
                "val/style_dist": relative_distance(self.style_encoder(result), self.style_encoder(style_img), style_code),
                "val/style_stat_dist": relative_distance(pixel_statistics(result), pixel_statistics(style_img), pixel_statistics(x)),
            },
            on_epoch=True, batch_size=len(x),
        )  # fmt: skip

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        generator_params = [p for m in (self.content_encoder, self.style_encoder, self.decoder) for p in m.parameters()]
        return [self.g_optimizer_factory(generator_params), self.d_optimizer_factory(self.discriminator.parameters())]
