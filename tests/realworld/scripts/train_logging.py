"""A training script that configures logging itself (the style of many research repos)."""

import argparse
import logging
import random

logger = logging.getLogger("train")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("datasets").warning("no cache directory configured; using memory")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rng = random.Random(0)
    weight, lr = 0.0, 0.1
    data = [(x, 3.0 * x + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(64))]
    for epoch in range(args.epochs):
        total = 0.0
        for x, y in data:
            error = weight * x - y
            weight -= lr * error * x
            total += error * error
        logger.info("epoch %d loss=%.4f weight=%.3f", epoch, total / len(data), weight)
    logger.debug("not shown: the level is INFO")
    print(f"final weight {weight:.3f}")


if __name__ == "__main__":
    main()
