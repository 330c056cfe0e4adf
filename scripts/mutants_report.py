#!/usr/bin/env python3
"""The results section of docs/mutants.md, from cargo-mutants output.

    python3 scripts/mutants_report.py RESULTS.jsonl [--check]

RESULTS.jsonl holds one line per tested mutant, as `--merge DIR@COMMIT...`
writes it from the `mutants.out` directories of one or more runs, each with
the commit its tree was taken from (a later run's outcome for a mutant
replaces an earlier one; the statements a mutant's function cites are read
from that commit). The
report counts caught, missed, timed-out and unviable mutants per crate and
per module, separately for the functions that cite a normative statement,
and lists every surviving mutant with the reason from
`docs/mutants-survivors.tsv` (mutant name, tab, why it cannot matter or
which test is missing). With --check it fails if docs/mutants.md differs.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conformance import cited_ids  # noqa: E402  the citation grammar of the coverage report

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs/mutants.md"
SURVIVORS = ROOT / "docs/mutants-survivors.tsv"
BEGIN = "<!-- mutants-report begin -->"
END = "<!-- mutants-report end -->"
CITATION = re.compile(r"MQTT-\d+\.\d+\.\d+-\d+")
KINDS = {
    "CaughtMutant": "caught",
    "MissedMutant": "missed",
    "Timeout": "timeout",
    "Unviable": "unviable",
}


def merge(runs: list[str]) -> list[dict]:
    """The outcome of each mutant over `runs` (each `DIR@COMMIT`: a
    mutants.out directory and the commit its tree was taken from), later
    ones winning, with the statements its function cites in that commit."""
    by_name: dict[str, dict] = {}
    for run in runs:
        directory, _, commit = run.rpartition("@")
        data = json.loads((Path(directory) / "outcomes.json").read_text())
        # A run that tests survivors again finds them where edits moved
        # them: an earlier survivor it tested under another line number is
        # replaced too.
        tested = {
            moved_key(o["scenario"]["Mutant"]["name"])
            for o in data["outcomes"]
            if isinstance(o["scenario"], dict) and "Mutant" in o["scenario"]
        }
        for name in [n for n, m in by_name.items()
                     if m["outcome"] == "missed" and moved_key(n) in tested]:
            del by_name[name]
        for outcome in data["outcomes"]:
            mutant = outcome["scenario"].get("Mutant") if isinstance(
                outcome["scenario"], dict) else None
            if mutant is None or outcome["summary"] not in KINDS:
                continue
            text = function_text(mutant, source_lines(commit, mutant["file"]))
            by_name[mutant["name"]] = {
                "name": mutant["name"],
                "package": mutant["package"],
                "file": mutant["file"],
                "commit": commit,
                "outcome": KINDS[outcome["summary"]],
                "cites": bool(CITATION.search(text)),
                "statements": sorted({f"{v} [{s}]" for v, s in cited_ids(text)}),
            }
    return sorted(by_name.values(), key=lambda m: m["name"])


@functools.cache
def source_lines(commit: str, path: str) -> list[str]:
    return subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout.splitlines()


def function_text(mutant: dict, lines: list[str]) -> str:
    """The doc comment and body of the function the mutant is in, from the
    `lines` of its file (scripts/mutants_change.py reads them too)."""
    function = mutant.get("function")
    if not function:
        return ""
    span = function["span"]
    return "\n".join(lines[span["start"]["line"] - 1: span["end"]["line"]])


def moved_key(name: str) -> str:
    """The mutant's name without its line and column."""
    path, _, rest = re.match(r"^([^:]+):(\d+:\d+):(.*)$", name).groups()
    return f"{path}:{rest}"


def survivor_pattern(name: str) -> str:
    """A regex for the mutant `name` with any line and column: edits since
    the run move lines, and the rest of the name still says which mutant."""
    path, line_col, rest = re.match(r"^([^:]+):(\d+:\d+):(.*)$", name).groups()
    return re.escape(path) + r":\d+:\d+:" + re.escape(rest)


def reasons() -> dict[str, str]:
    found = {}
    if SURVIVORS.exists():
        for line in SURVIVORS.read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, why = line.partition("\t")
                found[name] = why
    return found


def ratio(caught: int, viable: int) -> str:
    return f"{100 * caught / viable:.0f} %" if viable else "–"


def table(rows: dict[str, dict[str, int]], label: str) -> list[str]:
    out = [
        f"| {label} | caught | missed | timeout | unviable | caught of viable "
        "| citing: caught / viable |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(rows):
        c = rows[key]
        viable = c["caught"] + c["missed"] + c["timeout"]
        cviable = c["cite_caught"] + c["cite_missed"] + c["cite_timeout"]
        out.append(
            f"| {key} | {c['caught']} | {c['missed']} | {c['timeout']} | {c['unviable']} "
            f"| {ratio(c['caught'] + c['timeout'], viable)} "
            f"| {c['cite_caught'] + c['cite_timeout']} / {cviable} |")
    return out


def report(mutants: list[dict]) -> str:
    crates: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    modules: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in mutants:
        for counts in (crates[m["package"]], modules[m["file"]]):
            counts[m["outcome"]] += 1
            if m["cites"]:
                counts["cite_" + m["outcome"]] += 1
    why = reasons()
    lines = [BEGIN, "", f"{len(mutants)} mutants tested.", ""]
    lines += table(crates, "crate") + [""]
    lines += ["<details><summary>Per module</summary>", ""]
    lines += table(modules, "module") + ["", "</details>", ""]
    survivors = [m for m in mutants if m["outcome"] == "missed"]
    lines += [f"### Surviving mutants ({len(survivors)})", ""]
    if survivors:
        lines += ["| mutant | cites a statement | why it survives |", "|---|---|---|"]
        for m in survivors:
            lines.append(
                f"| `{m['name']}` | {'yes' if m['cites'] else 'no'} "
                f"| {why.get(m['name'], 'not yet judged')} |")
    lines += ["", END]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="the merged results, one JSON line per mutant")
    parser.add_argument("--merge", nargs="+", metavar="DIR@COMMIT",
                        help="write RESULTS from these runs first: each a mutants.out "
                        "directory and the commit the run's tree was taken from")
    parser.add_argument("--check", action="store_true")
    parser.add_argument(
        "--survivors-re", metavar="PACKAGE",
        help="print a regex for cargo mutants --re that matches PACKAGE's surviving "
        "mutants wherever their lines moved since, to test them again")
    args = parser.parse_args()
    results = Path(args.results)
    if args.merge:
        merged = merge(args.merge)
        results.write_text("".join(json.dumps(m) + "\n" for m in merged))
    mutants = [json.loads(line) for line in results.read_text().splitlines() if line]
    if args.survivors_re:
        names = [m["name"] for m in mutants
                 if m["outcome"] == "missed" and m["package"] == args.survivors_re]
        print("^(" + "|".join(survivor_pattern(n) for n in names) + ")$")
        return 0
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + report(mutants) + text[end:]
    if args.check:
        if new != text:
            print("docs/mutants.md is stale: run scripts/mutants_report.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
