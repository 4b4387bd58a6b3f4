"""A training loop traced with OpenTelemetry: spans become the run's timeline in the studio.

Start a collector first (``runlog collector``), then::

    python examples/traced_training.py
    runlog spans RUN_ID          # or open the run's Timeline tab: runlog ui RUN_ID

The run (experiment ``traced-training``) gets a ``train`` span with one ``epoch`` span per
epoch, each with ``load_data`` and ``evaluate`` spans inside; ``loss`` per step, ``accuracy``
per epoch, and log lines through standard ``logging`` (needs ``pip install 'runlog-ml[otel]'``).
"""

from __future__ import annotations

import logging
import math
import random
import time

import runlog

EPOCHS = 4
STEPS_PER_EPOCH = 250


def main() -> None:
    runlog.install_logging()
    log = logging.getLogger("train")
    log.setLevel(logging.INFO)  # INFO records pass (the root logger stays at WARNING)
    with runlog.start_run(experiment="traced-training", name="traced-mlp") as run:
        providers = runlog.configure_otel(run, metrics=False, logs=False)
        tracer = providers.tracer_provider.get_tracer("traced_training")
        run.log_params({"epochs": EPOCHS, "lr": 0.05, "batch_size": 64})
        rng = random.Random(7)
        with tracer.start_as_current_span("train"):
            for epoch in range(EPOCHS):
                with tracer.start_as_current_span("epoch", attributes={"epoch": epoch}):
                    with tracer.start_as_current_span("load_data"):
                        time.sleep(0.02)
                    for step in range(STEPS_PER_EPOCH):
                        t = epoch * STEPS_PER_EPOCH + step
                        run.log("loss", 2.0 * math.exp(-t / 300) + 0.05 * rng.random(), step=t)
                    with tracer.start_as_current_span("evaluate"):
                        time.sleep(0.03)
                        accuracy = 1 - 0.5 * math.exp(-epoch)
                    run.log("accuracy", accuracy, step=epoch)
                    log.info("epoch %d done: accuracy=%.3f", epoch, accuracy)
            log.warning("learning rate was never decayed")
        providers.shutdown()
        print(f"run {run.id}: {EPOCHS} epochs traced")


if __name__ == "__main__":
    main()
