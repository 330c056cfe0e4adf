#!/usr/bin/env python3
"""Rewrites the Performance section of the root README.md (between the
`performance:begin` and `performance:end` markers) from the generated
BENCHMARKS.md files, so the README shows tables from a real run only.

The README gets the side-by-side tables only (our crate and the peer crates
timed in the same run, with their ratios), the machine they ran on and how to
reproduce them; the goals each report checks stay in that report.

Usage (from the workspace root, after the reports were written; it reads the
reports and runs no benchmark):
    python3 benches/scripts/readme_performance.py
"""
import sys

# (file, heading of the section whose first table is copied, title in README):
# the side-by-side comparisons with the peer crates, nothing else.
SECTIONS = [
    ("mqtt-codec/BENCHMARKS.md", "PUBLISH decode, per packet", "Codec: PUBLISH decode, per packet"),
    ("mqtt-codec/BENCHMARKS.md", "PUBLISH encode into a reused buffer, per packet",
     "Codec: PUBLISH encode, per packet"),
    ("mqtt-topic/BENCHMARKS.md", "Match time per topic, topics pre-parsed",
     "Topics: match time per topic"),
]


def first_table(text, heading):
    start = text.find("## " + heading)
    if start < 0:
        return None
    lines = text[start:].splitlines()[1:]
    table = []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
        elif line.startswith("## "):
            break
    return "\n".join(table) if table else None


def machine_line(text):
    """The report's `- Machine:` item, with its wrapped continuation lines."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("- Machine:"):
            item = [line[2:].strip()]
            for more in lines[i + 1:]:
                if not more.startswith("  "):
                    break
                item.append(more.strip())
            return " ".join(item)
    return "Machine: unknown"


def main():
    parts = []
    codec = open("mqtt-codec/BENCHMARKS.md").read()
    parts.append(
        "Criterion medians from one run with every peer crate in the same binary, "
        "each crate given the same bytes or the same filters and topics; "
        "ratios are peer time ÷ ours (above 1: ours is faster). "
        + machine_line(codec)
        + " Full reports, with more workloads, allocation counts and the peer versions: "
        "[mqtt-codec/BENCHMARKS.md](mqtt-codec/BENCHMARKS.md), "
        "[mqtt-topic/BENCHMARKS.md](mqtt-topic/BENCHMARKS.md), "
        "[mqtt-session/BENCHMARKS.md](mqtt-session/BENCHMARKS.md). "
        "To reproduce them, run `benches/run.sh` from the repository root: it runs every "
        "benchmark once and rewrites those reports and this section from that run."
    )
    for path, heading, title in SECTIONS:
        table = first_table(open(path).read(), heading)
        if table is None:
            sys.exit(f"no table under '## {heading}' in {path}")
        parts.append(f"### {title}\n\n{table}")
    body = "\n\n".join(parts)
    readme = open("README.md").read()
    begin, end = "<!-- performance:begin -->", "<!-- performance:end -->"
    if begin not in readme:
        sys.exit("README.md has no performance markers")
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    open("README.md", "w").write(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    main()
