"""A tour of the logging API: a list, a repeated scalar, rows, a table, an image, a tag.

Start a collector first (``runlog collector``), then::

    python examples/logging_tour.py

It prints what ``run.get_metrics()`` returns for each kind of metric.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import runlog


def fibonacci(count: int) -> list[int]:
    """The first *count* Fibonacci numbers."""
    numbers = [0, 1]
    while len(numbers) < count:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:count]


def main() -> None:
    exp = runlog.Experiment("logging-api-tour")
    run = exp.start_logging()

    run.log_list("Fibonacci numbers", fibonacci(10))  # one list
    for i in range(-10, 10):
        run.log("sigmoid", 1 / (1 + math.exp(-i)))  # a repeated name: a vector
    for i in range(10):
        angle = i / 2
        run.log_row("Cosine Wave", angle=angle, cos=math.cos(angle))  # repeated rows: a table
    angles = [i / 4 for i in range(20)]
    run.log_table("Sine Wave", {"angle": angles, "sine": [math.sin(a) for a in angles]})

    plt.figure(figsize=(4, 3))
    plt.plot(angles, [math.sin(a) for a in angles])
    plt.title("Sine Wave")
    run.log_image("Sine plot", plot=plt)  # the current figure, as PNG
    plt.close("all")

    run.tag("tour", "yes")
    run.complete()

    print(f"run {run.id} in experiment {exp.name!r}")
    for name, value in run.get_metrics().items():
        print(f"  {name!r}: {value!r}")
    print(f"files: {run.get_file_names()}")


if __name__ == "__main__":
    main()
