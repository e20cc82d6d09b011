"""Keep the README's results tables equal to the committed results files.

    python tools/readme_results.py           # rewrite every generated block of README.md
    python tools/readme_results.py --check   # fail if a block differs from what the results files give

A generated block sits between ``<!-- results PROFILE CHAPTER [EXPERIMENT] -->`` and ``<!-- end results -->`` and
holds :func:`mrilab.results.table` of the rows of ``results/PROFILE/CHAPTER.json`` (``CHAPTER`` may join
several chapters with ``+``: their rows, merged by :func:`mrilab.results.load_all`, are shown together), for PSNR
and then SSIM.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MRILAB_RESULTS", str(ROOT / "results"))

from mrilab.results import load_all, table  # noqa: E402

BLOCK = re.compile(r"(<!-- results (\S+) (\S+)(?: (\S+))? -->\n)(.*?)(<!-- end results -->)", re.S)


def render(text: str) -> str:
    def block(match: re.Match) -> str:
        profile, chapters, experiment = match.group(2), match.group(3).split("+"), match.group(4)
        rows = [row for row in load_all(profile)["rows"] if row["chapter"] in chapters]
        tables = [f"**{label}**\n\n" + table(rows, metric=metric, experiment=experiment, time=metric == "psnr")
                  for metric, label in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"))]
        return match.group(1) + "\n".join(tables) + match.group(6)

    return BLOCK.sub(block, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args()
    text = args.readme.read_text()
    blocks = len(BLOCK.findall(text))
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.readme.name}: results tables differ from results/ — run `python tools/readme_results.py`")
            return 1
        print(f"{args.readme.name}: {blocks} results tables are current")
        return 0
    args.readme.write_text(new)
    print(f"{args.readme.name}: rewrote {blocks} results tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
