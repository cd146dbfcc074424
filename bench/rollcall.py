"""``./ewall bench rollcall``: issuing a roll call to 100,000 people (the value), recording a burst of
5,000 phone answers per second, and the outcome quality on the simulator's labelled fleet. Each part
runs on its own fresh bench database (``bench.rollcall_issue``, ``bench.rollcall_answers``,
``bench.rollcall_quality``), in a process of its own so that no cached settings or database engine
carries over; this prints their one JSON line."""

import json
import subprocess
import sys

from core.config import REPO_ROOT


def part(name: str, quick: bool) -> dict:
    """One part's figures, measured in a child process (its last line of output is their JSON)."""
    code = (
        f"import json, importlib; print(json.dumps(importlib.import_module('bench.rollcall_{name}').measure({quick})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{name}: {figures}", file=sys.stderr)
    return figures


def main(quick: bool = False) -> int:
    issued, answers, quality = (part(name, quick) for name in ("issue", "answers", "quality"))
    print(
        json.dumps(
            {
                "bench": "rollcall",
                "metric": f"seconds to issue one roll call to {issued['people']:,} supervisees (written and delivered)",
                "value": round(issued["issue_s"], 3),
                "unit": "s",
                "baseline": "naive: one INSERT and one publish per person (sampled, extrapolated)",
                "baseline_value": round(issued["baseline_issue_s"], 3),
                "ratio": round(issued["issue_s"] / issued["baseline_issue_s"], 4),
                "target": "< 5 s for 100,000; answers p99 < 1 s at 5,000/s; precision and recall 1.0, no false missed",
                "issue": issued,
                "answers": answers,
                "quality": quality,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(quick="--quick" in sys.argv))
