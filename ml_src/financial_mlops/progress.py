"""Progress a person can follow: a tqdm bar on a terminal, plain throttled lines elsewhere.

On a TTY the training loop shows a real progress bar. Without one (CI, a log
file, Ansible capturing the output) a bar's carriage returns are unreadable,
so one plain line is written every ``interval`` seconds and at every epoch
end: step, variant, epoch i/N, train loss, validation accuracy, elapsed, ETA.

``FINMLOPS_PROGRESS_FILE`` names a file that receives the same plain lines
(appended, flushed at once), whatever stderr is: the embedded demo runs a
step in the background and prints that file's last line every few seconds,
since Ansible shows a task's output only when the task ends.

Cost: ``update`` is called once per optimisation step and only compares a
monotonic clock reading with a deadline; formatting happens at most once per
interval, so the loop's throughput is unchanged (benchmarks/train_throughput.py).
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from tqdm.auto import tqdm

PROGRESS_FILE_ENV = "FINMLOPS_PROGRESS_FILE"
DEFAULT_INTERVAL = 5.0


def format_duration(seconds: float | None) -> str:
    """``75`` -> ``1m15s``; ``None`` (unknown) -> ``?``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TrainingProgress:
    """Drop-in for the tqdm bar of ``train.fit``: ``update(n)``, ``epoch_done(...)``, ``close()``."""

    def __init__(
        self,
        *,
        step: str,
        variant: str,
        epochs: int,
        steps_per_epoch: int,
        start_epoch: int = 0,
        enabled: bool = True,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        interval: float = DEFAULT_INTERVAL,
        progress_file: str | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.step, self.variant = step, variant
        self.epochs, self.steps_per_epoch = epochs, max(steps_per_epoch, 1)
        self.total = self.steps_per_epoch * epochs
        self.start_done = self.steps_per_epoch * start_epoch
        self.done = self.start_done
        self.epoch = start_epoch
        self.train_loss: float | None = None
        self.val_accuracy: float | None = None
        self.interval = interval
        self._clock = clock
        self._started = clock()
        self._next = self._started + interval
        self._stream = stream if stream is not None else sys.stderr
        is_tty = tty if tty is not None else bool(getattr(self._stream, "isatty", lambda: False)())
        self._plain = enabled and not is_tty
        path = progress_file if progress_file is not None else os.environ.get(PROGRESS_FILE_ENV)
        self._file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._bar = (
            tqdm(
                total=self.total,
                initial=self.start_done,
                desc=f"{step} {variant}".strip(),
                unit="step",
                file=self._stream,
                dynamic_ncols=True,
            )
            if enabled and is_tty
            else None
        )
        self.emit()

    # --- called from the training loop -------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._clock() >= self._next:
            self.emit()

    def epoch_done(self, epoch: int, train_loss: float, val_loss: float, val_accuracy: float) -> None:
        self.epoch, self.train_loss, self.val_accuracy = epoch, train_loss, val_accuracy
        self.done = max(self.done, self.steps_per_epoch * epoch)
        if self._bar is not None:
            self._bar.set_postfix(
                epoch=f"{epoch}/{self.epochs}",
                loss=f"{train_loss:.4f}",
                val_loss=f"{val_loss:.4f}",
                val_acc=f"{val_accuracy:.3f}",
            )
        self.emit(epoch_end=True)

    def close(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.close()
        if note:
            self.emit(note)
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- output --------------------------------------------------------------------------
    def eta(self) -> float | None:
        """Seconds left at this run's pace (steps done since start); ``None`` before any step."""
        done_here = self.done - self.start_done
        if done_here <= 0:
            return None
        return (self._clock() - self._started) / done_here * max(self.total - self.done, 0)

    def line(self, epoch_end: bool = False) -> str:
        """At an epoch's end: that epoch and its metrics; in between: the epoch running now."""
        current = self.epoch if epoch_end or self.done >= self.total else min(self.epoch + 1, self.epochs)
        parts = [
            f"{self.step} {self.variant}".strip() + ":",
            f"epoch {current}/{self.epochs}",
            f"{100.0 * self.done / self.total:3.0f}%" if self.total else "",
            f"train_loss {self.train_loss:.4f}" if self.train_loss is not None else "train_loss -",
            f"val_acc {self.val_accuracy:.3f}" if self.val_accuracy is not None else "val_acc -",
            f"elapsed {format_duration(self._clock() - self._started)}",
            f"ETA {format_duration(self.eta())}",
        ]
        return " ".join(p for p in parts if p)

    def emit(self, note: str = "", epoch_end: bool = False) -> None:
        """Write one plain line (stderr when not a TTY, and the progress file) and re-arm the timer."""
        self._next = self._clock() + self.interval
        if not self._plain and self._file is None:
            return
        text = self.line(epoch_end) + (f" ({note})" if note else "")
        if self._plain:
            print(text, file=self._stream, flush=True)
        if self._file is not None:
            self._file.write(text + "\n")
            self._file.flush()


def step_note(step: str, message: str) -> None:
    """One line for steps without an epoch loop (evaluate, ingest...): stderr and the progress file."""
    text = f"{step}: {message}"
    print(text, file=sys.stderr, flush=True)
    path = os.environ.get(PROGRESS_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
