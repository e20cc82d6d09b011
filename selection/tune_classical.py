"""Choose FISTA-wavelet's and TV's λ on the validation split for every task and ratio they serve; commit the record.

    python selection/tune_classical.py --profile demo            # tunes the settings the record lacks
    python selection/tune_classical.py --profile demo --retune   # tunes every setting again

See :func:`mrilab.recipes.classical.write_lambda_record` for the rule and :data:`LAMBDA_SETTINGS` for the settings.
"""

from __future__ import annotations

import argparse
import time

from mrilab.recipes.classical import lambda_record_path, write_lambda_record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo", "full"])
    parser.add_argument("--retune", action="store_true", help="tune every setting, not only those the record lacks")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    record = write_lambda_record(args.profile, keep=not args.retune)
    for key, entry in record["entries"].items():
        print(f"{key:48s} λ {entry['lambda']:g}" + ("  (on the edge of what was tried)" if entry["on_edge"] else ""))
    print(f"wrote {lambda_record_path(args.profile)} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
