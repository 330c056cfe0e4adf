#!/usr/bin/env python3
"""Runs the shell blocks of the README's Quickstart section, as written.

CI calls this so that a README edit that breaks a quickstart command fails
the build, instead of CI running its own copy of the commands. Each ```sh
block runs in its own `bash -euo pipefail`, from the repository root; a
block that starts a server in the background must stop it itself (the
README's broker block does). The test command is left to CI's own test
step, which runs exactly that line (checked here), so the suite does not
run twice.

    python3 scripts/quickstart.py          # run every block
    python3 scripts/quickstart.py --list   # print the blocks instead
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEST_COMMAND = "scripts/test.sh"


def quickstart_blocks(readme):
    """The ```sh blocks between '## Quickstart' and the next '## ' heading."""
    blocks, block, in_section = [], None, False
    for line in readme.splitlines():
        if line.startswith("## "):
            in_section = line.strip() == "## Quickstart"
            continue
        if not in_section:
            continue
        if block is None and line.strip() == "```sh":
            block = []
        elif block is not None and line.strip() == "```":
            blocks.append("\n".join(block))
            block = None
        elif block is not None:
            block.append(line)
    return blocks


def main():
    blocks = quickstart_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    if not blocks:
        sys.exit("README.md: no ```sh block under '## Quickstart'")
    # The README names one test command and CI runs exactly that command.
    if not any(block.strip() == TEST_COMMAND for block in blocks):
        sys.exit(f"README.md: the Quickstart no longer names `{TEST_COMMAND}` as its test command")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    if TEST_COMMAND not in (line.strip() for line in ci_lines):
        sys.exit(f".ci/run: does not run the README's test command `{TEST_COMMAND}`")
    for block in blocks:
        if block.strip() == TEST_COMMAND:
            print(f"== quickstart: `{TEST_COMMAND}` is CI's test step", flush=True)
            continue
        print(f"== quickstart:\n{block}", flush=True)
        if "--list" in sys.argv:
            continue
        subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
