"""``./ewall bench rollcall``: issuing a roll call to 100,000 people (the value), recording a burst of
5,000 phone answers per second, and the outcome quality on the simulator's labelled fleet. Each part
runs on its own fresh bench platform (``bench.rollcall_issue``, ``bench.rollcall_answers``,
``bench.rollcall_quality``); this prints their one JSON line."""

import json
import sys

from bench import rollcall_answers, rollcall_issue, rollcall_quality


def main(quick: bool = False) -> int:
    issued = rollcall_issue.measure(quick)
    print(f"issue: {issued}", file=sys.stderr)
    answers = rollcall_answers.measure(quick)
    print(f"answers: {answers}", file=sys.stderr)
    quality = rollcall_quality.measure(quick)
    print(f"quality: {quality}", file=sys.stderr)
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
