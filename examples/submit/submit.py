"""Submit train.py (with mylib.py) as a run on the collector's host, as Azure ML v1's
"train-on-local" does, stream its output and show what the run kept.

Start a collector first (``runlog collector``), then::

    python examples/submit/submit.py            # or: --target ray

The source folder is this one, minus what .runlogignore lists.
"""

import argparse
from pathlib import Path

from runlog import Environment, Experiment, ScriptRunConfig

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="local", help="compute target (local or ray)")
    target = parser.parse_args().target

    env = Environment("user-managed-env")
    env.python.user_managed_dependencies = True  # the collector's own Python
    src = ScriptRunConfig(source_directory=HERE, script="train.py", compute_target=target)
    src.run_config.environment = env

    run = Experiment(name="train-on-local").submit(src)
    print(f"submitted {run.id}: {run.get_status()}")
    run.wait_for_completion(show_output=True)

    metrics = run.get_metrics()
    best = min(zip(metrics["mse"], metrics["alpha"], strict=True))
    print(
        f"run {run.id}: {len(metrics['mse'])} alphas, best alpha {best[1]:.2f} (mse {best[0]:.2f})"
    )
    print("files:", ", ".join(run.get_file_names()))


if __name__ == "__main__":
    main()
