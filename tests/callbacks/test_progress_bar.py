"""The progress bar counts epochs as the headline lines do: from 1, out of max_epochs."""

from __future__ import annotations

from types import SimpleNamespace

from genstyle.callbacks.progress_bar import ProgressBar


def description(epoch: int, max_epochs: int | None) -> str:
    bar = ProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=max_epochs)
    bar._progress_bar_trainer = bar._trainer
    return bar._get_train_description(epoch).strip()


def test_epochs_count_from_one_out_of_max_epochs():
    from genstyle.callbacks.headline import headline_line

    assert description(0, 2) == "Epoch 1/2" and description(1, 2) == "Epoch 2/2"
    assert headline_line(1, 2, 16, {"val/fid": 3.0}).startswith("epoch 2/2 ")  # the same epoch, the same number
    assert description(4, -1) == "Epoch 5"  # no epoch limit


def test_the_headline_says_optimiser_steps_and_batches_when_they_differ():
    from genstyle.callbacks.headline import headline_line

    assert headline_line(0, 2, 8, {"val/elbo": -5.0}, batches=8) == "epoch 1/2 (step 8): val/elbo -5"
    assert headline_line(0, 2, 16, {"val/fid": 3.0}, batches=8) == "epoch 1/2 (step 16 = optimiser steps, 8 batches): val/fid 3"


def test_two_evaluations_in_one_epoch_are_both_shown_the_last_as_in_the_results(capsys):
    """StarGAN v2's recipe stops inside its first epoch: the headline showed its first FID (48.7)
    while the results block showed the final one (14.6)."""
    from genstyle.callbacks.headline import HeadlineMetrics

    progress = SimpleNamespace(total=SimpleNamespace(completed=300))
    trainer = SimpleNamespace(is_global_zero=True, max_epochs=100, global_step=600, current_epoch=0, sanity_checking=False,
                              state=SimpleNamespace(fn="fit"), callback_metrics={"val/fid": 48.7},
                              fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)))
    callback = HeadlineMetrics()
    callback.on_validation_end(trainer, None)
    trainer.global_step, progress.total.completed, trainer.callback_metrics = 2296, 1148, {"val/fid": 14.6}
    callback.on_train_end(trainer, None)
    callback.on_train_end(trainer, None)  # nothing new: no second copy
    assert capsys.readouterr().out.splitlines() == [
        "epoch 1/100 (step 600 = optimiser steps, 300 batches): val/fid 48.7",
        "epoch 1/100 (step 2296 = optimiser steps, 1148 batches): val/fid 14.6",
    ]
