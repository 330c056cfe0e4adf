#!/usr/bin/env python3
"""Mutation testing of a change, bounded in time.

    python3 scripts/mutants_change.py [--base COMMIT] [--max N] [--budget SECONDS]

Lists the mutants cargo-mutants makes in the library code of the protocol
crates (mqttkit-codec, mqttkit-topic, mqttkit-session) that changed since
BASE (by default the commit named in `.ci/mutants-base`, the last one CI
accepted), and tests up to N of them in place. Mutants in a function that
cites a normative statement (`[MQTT-x.y.z-n]` in its doc comment or body)
come first; when there are more than N, the sample rotates with the commit
being tested, so successive changes test different mutants.

It fails when a mutant in a function that cites a statement survives the
tests: such a test suite would let that rule be broken unnoticed. Other
surviving mutants are listed without failing; `docs/mutants.md` explains
how they are judged in the full runs.

The source tree is restored afterwards, also when the run is interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutants_report import CITATION, function_text  # one citation rule for both

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "mqttkit-codec": "mqtt-codec/src",
    "mqttkit-topic": "mqtt-topic/src",
    "mqttkit-session": "mqtt-session/src",
}


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def cites_statement(mutant: dict, sources: dict[str, list[str]]) -> bool:
    """Whether the function the mutant is in cites a statement, by the rule
    the report uses."""
    lines = sources.setdefault(
        mutant["file"], (ROOT / mutant["file"]).read_text().splitlines()
    )
    return bool(CITATION.search(function_text(mutant, lines)))


def list_mutants(diff: Path) -> list[dict]:
    args = ["cargo", "mutants", "--list", "--json", "--in-diff", str(diff)]
    for package in PACKAGES:
        args += ["-p", package]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def sample(mutants: list[dict], citing: set[str], limit: int, seed: str) -> list[dict]:
    """Up to `limit` mutants, those that cite a statement first, each group
    rotated by `seed`."""

    def rotated(group: list[dict]) -> list[dict]:
        if not group:
            return group
        start = int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(group)
        return group[start:] + group[:start]

    first = rotated([m for m in mutants if m["name"] in citing])
    rest = rotated([m for m in mutants if m["name"] not in citing])
    return (first + rest)[:limit]


def restore_tree() -> None:
    """Undoes a mutation left behind by an interrupted in-place run."""
    subprocess.run(["git", "checkout", "-q", "--", *PACKAGES.values()], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="the commit the change starts from")
    parser.add_argument("--max", type=int, default=20, help="mutants to test at most")
    parser.add_argument(
        "--budget", type=int, default=300, help="seconds for the whole run at most"
    )
    args = parser.parse_args()

    base = args.base or (ROOT / ".ci/mutants-base").read_text().split()[0]
    if git("status", "--porcelain", "--", *PACKAGES.values()).strip():
        print("mutants: the library sources have uncommitted changes; commit them first")
        return 1
    head = git("rev-parse", "HEAD").strip()
    work = Path(tempfile.mkdtemp(prefix="mutants-change-"))
    diff = work / "change.diff"
    diff.write_text(git("diff", base, "HEAD", "--", *PACKAGES.values()))

    mutants = list_mutants(diff)
    sources: dict[str, list[str]] = {}
    citing = {m["name"] for m in mutants if cites_statement(m, sources)}
    chosen = sample(mutants, citing, args.max, head)
    print(
        f"mutants: {len(mutants)} in the change since {base[:10]}, "
        f"{len(citing)} of them in code that cites a statement; testing {len(chosen)}"
    )
    if not chosen:
        return 0

    names = "|".join(re.escape(m["name"]) for m in chosen)
    command = [
        "cargo", "mutants", "--in-place", "--baseline", "skip", "--no-shuffle",
        "--timeout", "60", "--build-timeout", "300",
        "--in-diff", str(diff), "--re", f"^({names})$", "--output", str(work),
    ]
    for package in PACKAGES:
        command += ["-p", package]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        process.wait(timeout=args.budget)
    except subprocess.TimeoutExpired:
        print(f"mutants: stopped after the budget of {args.budget} s")
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finally:
        restore_tree()
    elapsed = time.monotonic() - started

    results = work / "mutants.out"
    outcome = {}
    for kind in ("caught", "missed", "timeout", "unviable"):
        path = results / f"{kind}.txt"
        for line in path.read_text().splitlines() if path.exists() else []:
            outcome[line.strip()] = kind
    counts = {kind: sum(1 for k in outcome.values() if k == kind) for kind in
              ("caught", "missed", "timeout", "unviable")}
    print(
        "mutants: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        + f", {len(chosen) - len(outcome)} not reached, in {elapsed:.0f} s"
    )
    failed = False
    for mutant in chosen:
        if outcome.get(mutant["name"]) != "missed":
            continue
        if mutant["name"] in citing:
            failed = True
            print(f"MISSED, in code that cites a statement: {mutant['name']}")
        else:
            print(f"missed: {mutant['name']}")
    if failed:
        print(
            "mutants: a test that cites a statement must fail when the rule is broken; "
            "strengthen it (the diff of each mutant is in cargo mutants --list --diff)"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
