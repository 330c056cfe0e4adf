#!/usr/bin/env python3
"""Writes docs/conformance.md: which normative statements the crates' tests check.

For MQTT 5.0 and 3.1.1 (the statement lists in ../shared/spec), every
statement is either cited by at least one test of mqttkit-codec, mqttkit-topic,
mqttkit-session or mqttkit-tokio, or listed in docs/conformance-scope.tsv with the reason it is
not: `library` (not applicable to a library), `application` (left to the
application built on the crates) or `todo` (not yet done).

A test cites a statement in its doc comment or its body, or in its name
(`v5_mqtt_3_1_0_1_...`): `v5` or `v3.1.1` sets the version for the
`[MQTT-x.y.z-n]` ids that follow, and `[MQTT-a-1] to [MQTT-a-5]` is a range.
Tests are the `#[test]` functions of each crate's tests/ and of the
`#[cfg(test)]` part of its sources; a citation in a test file outside any
test function (a table of cases) counts for that file.

    python3 scripts/conformance.py                       # write docs/conformance.md
    python3 scripts/conformance.py --check               # fail if stale or incomplete
    python3 scripts/conformance.py --spec ../shared/spec # the statement lists (default)

It fails when a statement is neither covered nor explained, when the scope
explains a statement that a test now covers (so the reason is stale), or
with --check when docs/conformance.md differs from what it would write.
"""

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCOPE = ROOT / "docs" / "conformance-scope.tsv"
OUT = ROOT / "docs" / "conformance.md"
# Package name -> its folder in the workspace.
CRATES = {
    "mqttkit-codec": "mqtt-codec",
    "mqttkit-topic": "mqtt-topic",
    "mqttkit-session": "mqtt-session",
    "mqttkit-tokio": "mqtt-tokio",
    "mqttkit-broker": "mqtt-broker",
}
VERSIONS = ("v5", "v3.1.1")
TITLES = {"v5": "MQTT 5.0", "v3.1.1": "MQTT 3.1.1"}
LISTS = {"v5": "mqtt-v5.0-statements.json", "v3.1.1": "mqtt-v3.1.1-statements.zh.json"}
CATEGORIES = {
    "library": "not applicable to a library",
    "application": "left to the application",
    "todo": "not yet done",
}

TOKEN = re.compile(
    r"\b(v5|v3\.1\.1)\b|\[MQTT-(\d+\.\d+\.\d+)-(\d+)\](?:\s+to\s+\[MQTT-(\d+\.\d+\.\d+)-(\d+)\])?"
)
NAME_ID = re.compile(r"(?:^|_)(v5|v3_1_1|v311)_mqtt_(\d+)_(\d+)_(\d+)_(\d+)")
TEST_FN = re.compile(r"^\s*(?:pub\s+)?(?:async\s+)?fn\s+([a-zA-Z0-9_]+)")


def id_key(statement):
    return tuple(int(x) for x in re.findall(r"\d+", statement))


def cited_ids(text):
    """(version, id) pairs cited by one piece of text."""
    version = None
    for m in TOKEN.finditer(text):
        if m.group(1):
            version = m.group(1)
            continue
        if version is None:
            continue
        section, first = m.group(2), int(m.group(3))
        last = int(m.group(5)) if m.group(4) == section else first
        for n in range(first, last + 1):
            yield version, f"MQTT-{section}-{n}"


def named_ids(name):
    for m in NAME_ID.finditer(name):
        version = "v5" if m.group(1) == "v5" else "v3.1.1"
        yield version, f"MQTT-{m.group(2)}.{m.group(3)}.{m.group(4)}-{m.group(5)}"


def body_end(lines, start):
    """Index of the line closing the function that opens at `start`."""
    depth, opened = 0, False
    for i in range(start, len(lines)):
        code = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[i].split("//")[0])
        code = re.sub(r"'(?:\\.|[^'\\])'", "''", code)
        depth += code.count("{") - code.count("}")
        opened = opened or "{" in code
        if opened and depth <= 0:
            return i
    return len(lines) - 1


def test_sources():
    """(crate, relative path, lines) of test code: tests/ and #[cfg(test)] parts."""
    for crate in CRATES:
        base = ROOT / CRATES[crate]
        for path in sorted((base / "tests").rglob("*.rs")):
            yield crate, path.relative_to(ROOT).as_posix(), path.read_text("utf-8").splitlines()
        for path in sorted((base / "src").rglob("*.rs")):
            lines = path.read_text("utf-8").splitlines()
            for i, line in enumerate(lines):
                if line.strip() == "#[cfg(test)]":
                    rel = path.relative_to(ROOT).as_posix()
                    yield crate, rel, [""] * i + lines[i:]
                    break


def tests_citing():
    """{(version, id): {crate: [test, ...]}} over every test."""
    found = {}

    def add(key, crate, name):
        names = found.setdefault(key, {}).setdefault(crate, [])
        if name not in names:
            names.append(name)

    for crate, rel, lines in test_sources():
        claimed = [False] * len(lines)
        # start: the first doc or attribute line above the current item,
        # so that a test's whole header is claimed, attributes included.
        doc, is_test, i, start = [], False, 0, None
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith("///"):
                doc.append(stripped[3:])
                start = i if start is None else start
            elif stripped.startswith("#["):
                is_test = is_test or stripped.startswith("#[test]")
                start = i if start is None else start
            else:
                m = TEST_FN.match(lines[i])
                if m and is_test:
                    end = body_end(lines, i)
                    name = f"{rel}::{m.group(1)}"
                    text = " ".join(doc) + "\n" + "\n".join(lines[i : end + 1])
                    for key in list(cited_ids(text)) + list(named_ids(m.group(1))):
                        add(key, crate, name)
                    for j in range(i if start is None else start, end + 1):
                        claimed[j] = True
                    i = end
                doc, is_test, start = [], False, None
            i += 1
        rest = "\n".join(line for line, c in zip(lines, claimed) if not c)
        for key in cited_ids(rest):
            add(key, crate, f"{rel} (table of cases)")
    return found


def read_scope():
    scope = {v: {} for v in VERSIONS}
    for n, line in enumerate(SCOPE.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[0] not in scope or parts[2] not in CATEGORIES:
            sys.exit(f"{SCOPE.name}:{n}: expected version, id, category, reason")
        version, statement, category, reason = parts
        if statement in scope[version]:
            sys.exit(f"{SCOPE.name}:{n}: duplicate {statement}")
        scope[version][statement] = (category, reason)
    return scope


def read_lists(spec_dir):
    lists = {}
    for version, name in LISTS.items():
        statements = json.loads((spec_dir / name).read_text("utf-8"))
        lists[version] = sorted({s["id"] for s in statements}, key=id_key)
    return lists


def render(lists, scope, found):
    errors, body, summary = [], [], []
    for version in VERSIONS:
        covered, explained = [], []
        for statement in lists[version]:
            by_crate = found.get((version, statement))
            why = scope[version].get(statement)
            if by_crate:
                covered.append((statement, by_crate))
                if why:
                    errors.append(f"{version} {statement}: covered, remove it from the scope")
            elif why:
                explained.append((statement, why))
            else:
                errors.append(f"{version} {statement}: no test and no reason in the scope")
        for statement in scope[version]:
            if statement not in lists[version]:
                errors.append(f"{version} {statement}: in the scope, not in the list")
        extra = sorted(
            (s for (v, s) in found if v == version and s not in lists[version]), key=id_key
        )
        per_category = {c: sum(1 for _, (cat, _) in explained if cat == c) for c in CATEGORIES}
        summary.append((version, len(lists[version]), len(covered), per_category, len(extra)))
        body += [
            "",
            f"## {TITLES[version]}",
            "",
            "### Covered by tests",
            "",
            "| Statement | Crates (tests) | For example |",
            "|---|---|---|",
        ]
        for statement, by_crate in covered:
            crates = ", ".join(f"{c} ({len(t)})" for c, t in sorted(by_crate.items()))
            first = sorted(t for names in by_crate.values() for t in names)[:2]
            example = "<br>".join(f"`{t}`" for t in first)
            body.append(f"| {version} [{statement}] | {crates} | {example} |")
        body += [
            "",
            "### Not covered, and why",
            "",
            "| Statement | Category | Why |",
            "|---|---|---|",
        ]
        for statement, (category, reason) in explained:
            body.append(f"| {version} [{statement}] | {CATEGORIES[category]} | {reason} |")
        if extra:
            body += [
                "",
                "### Cited, but not in this version's list",
                "",
                "| Statement | Tests |",
                "|---|---|",
            ]
            for statement in extra:
                tests = sorted(t for names in found[(version, statement)].values() for t in names)
                body.append(f"| {version} [{statement}] | {'<br>'.join(f'`{t}`' for t in tests[:3])} |")
    head = [
        "# Conformance report of the workspace",
        "",
        "Generated by `scripts/conformance.py` from the tests of `mqttkit-codec`, `mqttkit-topic`",
        "and `mqttkit-session` and from `docs/conformance-scope.tsv`; do not edit by hand (CI",
        "checks it is fresh). Every normative statement of the MQTT 5.0 and 3.1.1 lists in",
        "`../shared/spec` is either cited by a test, with its version, or explained:",
        "not applicable to a library, left to the application, or not yet done.",
        "",
        "| Version | Statements | Covered by tests | Not applicable to a library "
        "| Left to the application | Not yet done | Cited ids outside the list |",
        "|---|---|---|---|---|---|---|",
    ]
    for version, total, covered, per, extra in summary:
        head.append(
            f"| {TITLES[version]} | {total} | {covered} | {per['library']} "
            f"| {per['application']} | {per['todo']} | {extra} |"
        )
    return "\n".join(head + body) + "\n", errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the report is stale")
    parser.add_argument("--spec", type=pathlib.Path, default=ROOT.parent / "shared" / "spec")
    args = parser.parse_args()
    text, errors = render(read_lists(args.spec), read_scope(), tests_citing())
    if args.check:
        if not OUT.exists() or OUT.read_text("utf-8") != text:
            errors.append(f"{OUT.relative_to(ROOT)} is stale: run scripts/conformance.py")
    else:
        OUT.write_text(text, "utf-8")
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
