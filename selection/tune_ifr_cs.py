"""Choose IFR-CS's λ and V on the validation split for every setting the IFR chapters use; commit the record.

    python selection/tune_ifr_cs.py --profile demo        # writes mrilab/records/ifr_cs_demo.json

See :func:`mrilab.recipes.classical.tune_ifr_cs` for the rule.
"""

from __future__ import annotations

import argparse
import time

from mrilab.recipes.classical import ifr_cs_record_path, write_ifr_cs_record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo", "full"])
    args = parser.parse_args(argv)
    start = time.perf_counter()
    record = write_ifr_cs_record(args.profile)
    for key, entry in record["entries"].items():
        print(f"{key:20s} λ {entry['lambda']:g}  V {entry['V']:g}")
    print(f"wrote {ifr_cs_record_path(args.profile)} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
