#!/usr/bin/env python3
"""Generates mqtt-session/CONFORMANCE.md from the test sources.

Every normative statement of MQTT 5.0 and 3.1.1 is listed in
`conformance-scope.tsv`, either as `client` (the client session must act on
it, so a test must cite it) or with the reason it does not apply. The
statement ids cited by each test come from its doc comment: `v5` or
`v3.1.1` sets the version for the `[MQTT-x.y.z-n]` ids that follow, and
`[MQTT-a-1] to [MQTT-a-5]` is a range.

    python3 mqtt-session/scripts/conformance.py            # write CONFORMANCE.md
    python3 mqtt-session/scripts/conformance.py --check    # fail if stale or incomplete
    python3 mqtt-session/scripts/conformance.py --spec DIR # also check the scope
        # lists every id of DIR/mqtt-v5.0-statements.json and
        # DIR/mqtt-v3.1.1-statements.zh.json, and nothing else

It fails when a `client` statement has no test, or (with --check) when
CONFORMANCE.md differs from what it would write. A test citing a statement
the scope marks as not applicable (a server-role test, say) is shown next
to the reason.
"""

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCOPE = ROOT / "conformance-scope.tsv"
OUT = ROOT / "CONFORMANCE.md"
VERSIONS = ("v5", "v3.1.1")
TITLES = {"v5": "MQTT 5.0", "v3.1.1": "MQTT 3.1.1"}

TOKEN = re.compile(
    r"\b(v5|v3\.1\.1)\b|\[MQTT-(\d+\.\d+\.\d+)-(\d+)\](?:\s+to\s+\[MQTT-(\d+\.\d+\.\d+)-(\d+)\])?"
)
TEST_FN = re.compile(r"^\s*(?:pub\s+)?fn\s+([a-zA-Z0-9_]+)")


def id_key(statement):
    return tuple(int(x) for x in re.findall(r"\d+", statement))


def cited_ids(doc):
    """(version, id) pairs cited by one doc comment."""
    version = None
    for m in TOKEN.finditer(doc):
        if m.group(1):
            version = m.group(1)
            continue
        if version is None:
            continue
        section, first = m.group(2), int(m.group(3))
        last = first
        if m.group(4) == section:
            last = int(m.group(5))
        for n in range(first, last + 1):
            yield version, f"MQTT-{section}-{n}"


def tests_citing():
    """{(version, id): [test, ...]} over every #[test] in tests/."""
    found = {}
    for path in sorted((ROOT / "tests").rglob("*.rs")):
        rel = path.relative_to(ROOT).as_posix()
        doc, is_test = [], False
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("///"):
                doc.append(stripped[3:])
                continue
            if stripped.startswith("#["):
                is_test = is_test or stripped.startswith("#[test]")
                continue
            m = TEST_FN.match(line)
            if m and is_test:
                name = f"{rel}::{m.group(1)}"
                for key in cited_ids(" ".join(doc)):
                    found.setdefault(key, [])
                    if name not in found[key]:
                        found[key].append(name)
            doc, is_test = [], False
    return found


def read_scope():
    scope = {v: {} for v in VERSIONS}
    for n, line in enumerate(SCOPE.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        version, statement, what = line.split("\t")
        if version not in scope or statement in scope[version]:
            sys.exit(f"{SCOPE.name}:{n}: bad or duplicate line")
        scope[version][statement] = what
    return scope


def check_spec(scope, spec_dir):
    files = {
        "v5": spec_dir / "mqtt-v5.0-statements.json",
        "v3.1.1": spec_dir / "mqtt-v3.1.1-statements.zh.json",
    }
    errors = []
    for version, path in files.items():
        listed = {s["id"] for s in json.loads(path.read_text(encoding="utf-8"))}
        if listed != set(scope[version]):
            errors.append(
                f"{version}: scope differs from {path.name}: "
                f"missing {sorted(listed - set(scope[version]))}, "
                f"extra {sorted(set(scope[version]) - listed)}"
            )
    return errors


def render(scope, found):
    errors, lines, counts = [], [], []
    for version in VERSIONS:
        covered, not_applicable, missing = [], [], []
        for statement in sorted(scope[version], key=id_key):
            what = scope[version][statement]
            tests = found.get((version, statement), [])
            if what == "client":
                (covered if tests else missing).append((statement, tests))
            elif tests:
                # A test of another role, or one that checks the statement
                # in passing: shown, still not a client statement.
                cited = ", ".join(f"`{t}`" for t in tests)
                not_applicable.append((statement, f"{what} (also cited by {cited})"))
            else:
                not_applicable.append((statement, what))
        for statement, _ in missing:
            errors.append(f"{version} {statement}: client statement without a test")
        extra = sorted(
            (s for (v, s) in found if v == version and s not in scope[version]), key=id_key
        )
        counts.append((version, len(covered), len(not_applicable), len(missing), len(extra)))
        lines += [
            "",
            f"## {TITLES[version]}",
            "",
            f"{len(covered)} client statements covered, {len(not_applicable)} not applicable"
            + (f", {len(missing)} WITHOUT TEST" if missing else "")
            + f", of {len(scope[version])} listed.",
            "",
            "### Client statements and their tests",
            "",
            "| Statement | Tests |",
            "|---|---|",
        ]
        for statement, tests in covered + missing:
            cell = "<br>".join(f"`{t}`" for t in tests) or "**none**"
            lines.append(f"| {version} [{statement}] | {cell} |")
        if extra:
            lines += [
                "",
                "### Cited, but not in the statement list",
                "",
                "The list of this version lacks these ids; the tests cite the standard's numbering.",
                "",
                "| Statement | Tests |",
                "|---|---|",
            ]
            for statement in extra:
                cell = "<br>".join(f"`{t}`" for t in found[(version, statement)])
                lines.append(f"| {version} [{statement}] | {cell} |")
        lines += [
            "",
            "### Not applicable to the client session state machine",
            "",
            "| Statement | Why |",
            "|---|---|",
        ]
        lines += [f"| {version} [{s}] | {why} |" for s, why in not_applicable]
    head = [
        "# Conformance of the mqttkit-session client role",
        "",
        "Generated by `scripts/conformance.py` from `conformance-scope.tsv` and the doc",
        "comments of the tests in `tests/`; do not edit by hand. Every normative statement",
        "of MQTT 5.0 (251) and of the MQTT 3.1.1 list in `shared/spec` (128) is either a",
        "client statement, cited by at least one test (`/// v5 [MQTT-x.y.z-n]`), or not",
        "applicable to a client session state machine, with the reason.",
        "",
        "| Version | Covered by tests | Not applicable | Without test | Cited ids outside the list |",
        "|---|---|---|---|---|",
    ]
    head += [f"| {TITLES[v]} | {c} | {n} | {m} | {e} |" for v, c, n, m, e in counts]
    return "\n".join(head + lines) + "\n", errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if CONFORMANCE.md is stale")
    parser.add_argument("--spec", type=pathlib.Path, help="directory of the statement lists")
    args = parser.parse_args()
    scope = read_scope()
    text, errors = render(scope, tests_citing())
    if args.spec:
        errors += check_spec(scope, args.spec)
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            errors.append(f"{OUT.name} is stale: run scripts/conformance.py")
    else:
        OUT.write_text(text, encoding="utf-8")
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
