"""What `upload_file` costs the training thread: `python bench/spool_staging.py`.

Stages a file of ``--mb`` MiB into a spool (`runlog.spool.Spool.stage_upload`, what
`run.upload_file(name, path)` calls) and times the call, against the baseline measured in
the same run: copying the file into the spool directory (what `upload_file` did before it
staged by clone, hard link or background copy). Also times the background work up to the
point where the entry is complete, checksummed and ready to send. Medians of ``--repeat``.
The spool lies next to the file (same filesystem, as ``~/.runlog`` and a project usually
are); ``--cross-device DIR`` puts it elsewhere, where only the background copy is possible.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import print_table

from runlog.spool import Spool


def once(source: Path, spool_dir: Path) -> tuple[float, float, float]:
    """(staging call s, until ready s, plain copy s) for one round."""
    shutil.rmtree(spool_dir, ignore_errors=True)
    spool = Spool(spool_dir, destination="http://127.0.0.1:4318")
    start = time.perf_counter()
    upload = spool.stage_upload("bench", "bench", "big.bin", source)
    call = time.perf_counter() - start
    sent: list[int] = []
    spool.replay_one(upload.data, print, lambda u: sent.append(u.data.stat().st_size))
    ready = time.perf_counter() - start
    start = time.perf_counter()
    shutil.copyfile(source, spool_dir / "plain-copy")
    os.sync()
    copy = time.perf_counter() - start
    return call, ready, copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cross-device", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.bin"
        with open(source, "wb") as stream:
            for _ in range(args.mb):
                stream.write(os.urandom(1024 * 1024))
        spool_dir = (args.cross_device or Path(folder)) / "spool"
        rounds = [once(source, spool_dir) for _ in range(args.repeat)]
        shutil.rmtree(spool_dir, ignore_errors=True)
    call, ready, copy = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(
        f"{args.mb} MiB file, spool {'on another filesystem' if args.cross_device else 'beside it'}"
    )
    print_table(
        [
            (
                "upload_file call (training thread)",
                f"{call * 1000:.2f} ms",
                f"{copy * 1000:.0f} ms (copy)",
                f"{call / copy:.4f}",
            ),
            (
                "entry ready to send (background)",
                f"{ready * 1000:.0f} ms",
                f"{copy * 1000:.0f} ms (copy)",
                f"{ready / copy:.2f}",
            ),
        ],
        args.repeat,
    )


if __name__ == "__main__":
    main()
