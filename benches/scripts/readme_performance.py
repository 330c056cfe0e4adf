#!/usr/bin/env python3
"""Rewrites the Performance section of the root README.md (between the
`performance:begin` and `performance:end` markers) from the generated
BENCHMARKS.md files, so the README shows tables from a real run only.

Usage (from the workspace root, after the reports were written):
    python3 benches/scripts/readme_performance.py
"""
import sys

# (file, heading of the section whose first table is copied, title in README)
SECTIONS = [
    ("mqtt-codec/BENCHMARKS.md", "PUBLISH decode, per packet", "Codec: PUBLISH decode, per packet"),
    ("mqtt-codec/BENCHMARKS.md", "PUBLISH encode into a reused buffer, per packet",
     "Codec: PUBLISH encode, per packet"),
]
TOPIC = "mqtt-topic/BENCHMARKS.md"
TOPIC_SECTIONS = [
    ("Match time per topic, topics pre-parsed", "Topics: match time per topic"),
    ("Against the targets of issue 3", "Topics: against the targets"),
]
CODEC_TARGETS = "Against the targets of the benchmarks issue"


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
        "Criterion medians from one run with every peer crate in the same binary; "
        "ratios are peer time ÷ ours (above 1: ours is faster). "
        + machine_line(codec)
        + " Full reports with allocation counts: [mqtt-codec/BENCHMARKS.md](mqtt-codec/BENCHMARKS.md), "
        "[mqtt-topic/BENCHMARKS.md](mqtt-topic/BENCHMARKS.md), "
        "[mqtt-session/BENCHMARKS.md](mqtt-session/BENCHMARKS.md). Regenerate with `benches/run.sh`."
    )
    for path, heading, title in SECTIONS:
        table = first_table(open(path).read(), heading)
        if table is None:
            sys.exit(f"no table under '## {heading}' in {path}")
        parts.append(f"### {title}\n\n{table}")
    try:
        session = open("mqtt-session/BENCHMARKS.md").read()
        table = first_table(session, "Time")
        if table:
            parts.append(f"### Session: client -> server -> client round trips in memory\n\n{table}")
    except OSError:
        pass
    topic = open(TOPIC).read()
    for heading, title in TOPIC_SECTIONS:
        table = first_table(topic, heading)
        if table is None:
            sys.exit(f"no table under '## {heading}' in {TOPIC}")
        parts.append(f"### {title}\n\n{table}")
    targets = first_table(codec, CODEC_TARGETS)
    if targets:
        parts.append(f"### Codec: {CODEC_TARGETS.lower()}\n\n{targets}\n\n"
                     "Why each missed target is missed: [mqtt-codec/BENCHMARKS.md](mqtt-codec/BENCHMARKS.md).")
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
