"""Choose FISTA-wavelet's and TV's λ on the validation split for every setting the chapters use; commit the record.

    python benchmarks/tune_classical.py --profile demo     # writes mrilab/records/classical_demo.json

See :func:`mrilab.recipes.classical.write_lambda_record` for the rule and :data:`LAMBDA_SETTINGS` for the settings.
"""

from __future__ import annotations

import argparse
import time

from mrilab.recipes.classical import lambda_record_path, write_lambda_record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo", "full"])
    args = parser.parse_args(argv)
    start = time.perf_counter()
    record = write_lambda_record(args.profile)
    for key, entry in record["entries"].items():
        print(f"{key:24s} λ {entry['lambda']:g}" + ("  (on the edge of what was tried)" if entry["on_edge"] else ""))
    print(f"wrote {lambda_record_path(args.profile)} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
