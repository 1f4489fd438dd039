"""financial_mlops.progress: plain throttled lines off a TTY, a tqdm bar on one, the progress file."""

from __future__ import annotations

import io

from financial_mlops.progress import TrainingProgress, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_are_throttled_and_carry_epoch_loss_accuracy_and_eta(tmp_path) -> None:
    clock, out = FakeClock(), io.StringIO()
    log = tmp_path / "progress.log"
    p = TrainingProgress(
        step="train", variant="baseline", epochs=4, steps_per_epoch=10, stream=out, tty=False,
        interval=5.0, progress_file=str(log), clock=clock,
    )  # fmt: skip
    assert out.getvalue().count("\n") == 1  # a first line at once
    for _ in range(9):  # 9 steps in 1 s: no line (throttled)
        clock.now += 1 / 9
        p.update(1)
    assert out.getvalue().count("\n") == 1
    p.update(1)
    p.epoch_done(1, 0.6931, 0.7, 0.512)
    clock.now += 6.0
    p.update(1)  # interval passed: one more line
    p.close("done")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert lines[1].startswith("train baseline: epoch 1/4")
    assert "train_loss 0.6931" in lines[1] and "val_acc 0.512" in lines[1]
    # 10 steps took 1 s, 30 remain: ETA 3 s at that pace
    assert "elapsed 1s" in lines[1] and "ETA 3s" in lines[1], lines[1]
    assert lines[2].startswith("train baseline: epoch 2/4")
    assert lines[-1].endswith("(done)")
    assert log.read_text().splitlines() == lines  # the progress file gets the same lines


def test_a_tty_gets_a_bar_and_no_plain_lines(tmp_path) -> None:
    out = io.StringIO()
    p = TrainingProgress(step="train", variant="enhanced", epochs=2, steps_per_epoch=3, stream=out, tty=True)
    for _ in range(3):
        p.update(1)
    p.epoch_done(1, 0.5, 0.6, 0.55)
    p.close()
    text = out.getvalue()
    assert "\r" in text and "train enhanced" in text and "epoch=1/2" in text
    assert "train_loss" not in text  # the plain-line format is for non-terminals only


def test_disabled_progress_is_silent_but_still_feeds_the_progress_file(tmp_path) -> None:
    out, log = io.StringIO(), tmp_path / "p.log"
    p = TrainingProgress(
        step="train", variant="x", epochs=1, steps_per_epoch=1, stream=out, tty=False, enabled=False,
        progress_file=str(log),
    )  # fmt: skip
    p.update(1)
    p.epoch_done(1, 0.1, 0.2, 0.9)
    p.close()
    assert out.getvalue() == ""
    assert "epoch 1/1" in log.read_text()


def test_format_duration() -> None:
    assert [format_duration(s) for s in (None, 0, 59.4, 75, 3725)] == ["?", "0s", "59s", "1m15s", "1h02m"]
