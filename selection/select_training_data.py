"""Choose the training distribution on the validation splits and commit the record (see mrilab.selection).

    python selection/select_training_data.py --profile demo

Trains the proxy models (ISTA-Net+ at 10 %, the ablation-size CGPD-CSNet at 10 and 30 %) on the narrow (T1w),
broad (domain-randomised) and mixed training slices, scores them on the T1w and the shifted validation sets, applies
mrilab.selection.DATA_RULE and writes mrilab/records/training_data_{profile}.json. About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse

from mrilab.selection import select_training_data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["smoke", "demo"])
    args = parser.parse_args(argv)
    record = select_training_data(args.profile)
    for c in record["candidates"]:
        print(f"{c['name']:7s} ({c['contrast']}): in-distribution {c['val_mean']:.2f} dB, "
              f"shifted {c['shifted_mean']:.2f} dB, training {c['train_seconds']:.0f} s")
    print(f"chosen: {record['chosen']} ({record['chosen_contrast']}); rule: {record['rule']}")


if __name__ == "__main__":
    main()
