#!/usr/bin/env python3
"""A full mutation run of whole crates, in chunks that can be resumed.

    python3 scripts/mutants_full.py --out DIR [-p PACKAGE ...] [--chunk N]

A full run of the protocol crates takes many hours on a small machine, so
it is made of chunks of N mutants, each tested in place by its own
cargo-mutants run with its results in `DIR/<commit>-<n>/mutants.out`.
Mutants already judged in `docs/mutants-results.jsonl`, or in an earlier
chunk under DIR, are skipped (by file, function and change, whatever line
they are on now), so running the command again goes on where the last
one stopped. When it ends it prints the `--merge` arguments that add the
chunks to the results with `scripts/mutants_report.py`.

It mutates the tree it runs in: run it in a worktree of its own
(`git worktree add ../mutants-tree HEAD`) with a clean status. The tree is
restored after each chunk, also when the run is interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from mutants_change import PACKAGES, git
from mutants_report import moved_key

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs/mutants-results.jsonl"
SOURCES = {
    **PACKAGES,
    "mqttkit-tokio": "mqtt-tokio/src",
    "mqttkit-broker": "mqtt-broker/src",
}


def judged(out: Path) -> set[str]:
    """The mutants (by `moved_key`) with an outcome on record or in a chunk
    under `out`."""
    keys = {moved_key(json.loads(line)["name"])
            for line in RESULTS.read_text().splitlines() if line.strip()}
    for outcomes in out.glob("*/mutants.out/outcomes.json"):
        for outcome in json.loads(outcomes.read_text())["outcomes"]:
            scenario = outcome["scenario"]
            if isinstance(scenario, dict) and "Mutant" in scenario:
                keys.add(moved_key(scenario["Mutant"]["name"]))
    return keys


def list_mutants(packages: list[str]) -> list[dict]:
    args = ["cargo", "mutants", "--list", "--json"]
    for package in packages:
        args += ["-p", package]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_chunk(chunk: list[dict], packages: list[str], output: Path) -> int:
    names = "|".join(re.escape(m["name"]) for m in chunk)
    command = [
        "cargo", "mutants", "--in-place", "--baseline", "skip", "--no-shuffle",
        "--profile", "mutants", "--timeout", "60", "--build-timeout", "300",
        "--re", f"^({names})$", "--output", str(output),
    ]
    for package in packages:
        command += ["-p", package]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        process.wait()
        raise
    finally:
        subprocess.run(["git", "checkout", "-q", "--", *(SOURCES[p] for p in packages)],
                       cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the chunks go")
    parser.add_argument("-p", "--package", action="append", choices=sorted(SOURCES),
                        help="a crate to mutate (default: the protocol crates)")
    parser.add_argument("--chunk", type=int, default=40, help="mutants per chunk")
    args = parser.parse_args()
    packages = args.package or list(PACKAGES)

    if git("status", "--porcelain", "--", *(SOURCES[p] for p in packages)).strip():
        print("mutants: the sources have uncommitted changes; run in a clean worktree")
        return 1
    commit = git("rev-parse", "--short", "HEAD").strip()
    args.out.mkdir(parents=True, exist_ok=True)
    done = judged(args.out)
    todo = [m for m in list_mutants(packages) if moved_key(m["name"]) not in done]
    print(f"mutants: {len(todo)} not judged yet in {', '.join(packages)}", flush=True)

    first = len(list(args.out.glob(f"{commit}-*")))
    for index, start in enumerate(range(0, len(todo), args.chunk), start=first):
        chunk = todo[start:start + args.chunk]
        output = args.out / f"{commit}-{index:03}"
        print(f"mutants: chunk {output.name}, {len(chunk)} mutants, "
              f"{len(todo) - start} left", flush=True)
        run_chunk(chunk, packages, output)

    # Oldest first, so that a later chunk's outcome wins in the merge.
    chunks = sorted((d for d in args.out.iterdir() if (d / "mutants.out").is_dir()),
                    key=lambda d: (d / "mutants.out").stat().st_mtime)
    merges = [f"{d}/mutants.out@{d.name.split('-')[0]}" for d in chunks]
    print("merge with: python3 scripts/mutants_report.py docs/mutants-results.jsonl "
          "--merge " + " ".join(merges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
