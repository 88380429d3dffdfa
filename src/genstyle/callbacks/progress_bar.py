"""Lightning's Rich progress bar, counting epochs as the rest of the console does: from 1, out of
`trainer.max_epochs` (`Epoch 1/2` ... `Epoch 2/2`, beside the headline's `epoch 2/2 (step 16)`)."""

from __future__ import annotations

from pytorch_lightning.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:
        description = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None and self.trainer.max_epochs > 0:
            description += f"/{self.trainer.max_epochs}"
        if len(self.validation_description) > len(description):  # as Lightning pads it: no flicker
            description = f"{description:{len(self.validation_description)}}"
        return description
