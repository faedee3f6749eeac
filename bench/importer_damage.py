"""The plan importer's accuracy over OCR damage (issue 19): every plan with hand-written facts
(tests/fixtures/plans gold.json files and the seeds) damaged at 0, 5, 10, 20 and 30 % by
tests/unit/damage.py, three seeds a rate, scored per field family; prints the curve and writes
build/importer_damage.json. `--per-class` adds the curve with one damage class at a time.

    PYTHONPATH=. python bench/importer_damage.py [--per-class] [--examples]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.unit.damage import CLASSES
from tests.unit.damage_curve import FAMILIES, RATES, Tally, measure

OUT = Path(__file__).resolve().parents[1] / "build" / "importer_damage.json"


def row(label: str, tally: Tally) -> tuple[str, dict[str, object]]:
    cells = [f"{tally.share(f):6.1%}" for f in FAMILIES]
    line = f"| {label:>12} | " + " | ".join(cells) + f" | {tally.share():6.1%} | {tally.wrong_but_certain:3d} |"
    return line, {
        "right": tally.right,
        "total": tally.total,
        "all": round(tally.share(), 4),
        "wrong_but_certain": tally.certain_wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", action="store_true")
    parser.add_argument("--examples", action="store_true")
    args = parser.parse_args()
    head = "| damage       | " + " | ".join(f"{f:>6.6}" for f in FAMILIES) + " |    all | wbc |"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|")
    result: dict[str, dict[str, object]] = {"all_classes": {}, "per_class": {}}
    for rate in RATES:
        tally = measure(rate)
        line, data = row(f"{rate:.0%}", tally)
        print(line)
        result["all_classes"][f"{rate:.2f}"] = data
        if args.examples:
            for example in tally.examples[:15]:
                print("    wrong but certain:", example)
    if args.per_class:
        for name in CLASSES:
            print(f"\nonly {name}:")
            per_class: dict[str, object] = {}
            result["per_class"][name] = per_class
            for rate in RATES[1:]:
                line, data = row(f"{rate:.0%}", measure(rate, classes=(name,)))
                print(line)
                per_class[f"{rate:.2f}"] = data
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
