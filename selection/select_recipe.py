"""Choose the demo training recipes on the validation split and commit the record (see mrilab.selection).

    python selection/select_recipe.py --profile demo [--method ista_net] [--method pc_rnn] ...

Trains every candidate schedule (finished runs in $MRILAB_RUNS are reused, and so are committed weights whose recipe
matches), scores it on the validation slices of the method's task (IFR-Net on its pseudo-radial masks, the multi-coil
models on 4 virtual coils at 4×), applies the rule, retrains the choice with more seeds (two; one for the multi-coil
models) and writes mrilab/records/selection_{profile}_{method}.json.
"""

from __future__ import annotations

import argparse

from mrilab.selection import CANDIDATES, record_table, seed_spread, select


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo"])
    parser.add_argument("--method", action="append", choices=sorted(CANDIDATES))
    args = parser.parse_args(argv)
    for method in args.method or sorted(CANDIDATES, reverse=True):
        record = select(method, args.profile)
        print(f"{record['method']} ({args.profile}): chosen {record['chosen']!r}")
        print(record_table(record))
        print("seed spread (dB):", {r: round(v, 3) for r, v in seed_spread(record).items()})


if __name__ == "__main__":
    main()
