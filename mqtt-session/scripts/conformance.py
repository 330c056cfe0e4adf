#!/usr/bin/env python3
"""Generates mqtt-session/CONFORMANCE.md from the test sources.

Every normative statement of MQTT 5.0 and 3.1.1 is listed in
`conformance-scope.tsv`, either as `client` (the client session must act on
it, so a test must cite it) or with the reason it does not apply.

The tests are those of `tests/`, read by the workspace's
`scripts/conformance.py` with the same rules as docs/conformance.md:

- a citation counts only in a `#[test]` or `#[tokio::test...]` function
  (proptest's included), from its doc comment, name or body, or in a
  `const`, `static` or `fn` item of the test code that such a test names (a
  case table or helper, credited to each test that uses it, shown as
  `(via NAME)`); text outside them (module docs, an unused helper) never
  counts;
- `v5` or `v3.1.1` sets the version for the `[MQTT-x.y.z-n]` ids that
  follow, `[MQTT-a-1] to [MQTT-a-5]` is a range, and a name such as
  `v5_mqtt_3_1_0_1_...` cites v5 [MQTT-3.1.0-1];
- a citation counts only for a version the test runs: the versions are read
  from its code (`ProtocolVersion::V5`, the `V5` and `V311` constants,
  `v5`/`v311` helpers), else from the tables and helpers it uses; a test
  with no such evidence keeps all its citations. `--verbose` prints the
  citations dropped for their version.

    python3 mqtt-session/scripts/conformance.py            # write CONFORMANCE.md
    python3 mqtt-session/scripts/conformance.py --check    # fail if stale or incomplete
    python3 mqtt-session/scripts/conformance.py --spec DIR # also check the scope
        # lists every id of DIR/mqtt-v5.0-statements.json and
        # DIR/mqtt-v3.1.1-statements.zh.json, and nothing else
    python3 mqtt-session/scripts/conformance.py --verbose  # list dropped citations

It fails when a `client` statement has no test, or (with --check) when
CONFORMANCE.md differs from what it would write. A test citing a statement
the scope marks as not applicable (a server-role test, say) is shown next
to the reason.
"""

import argparse
import importlib.util
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCOPE = ROOT / "conformance-scope.tsv"
OUT = ROOT / "CONFORMANCE.md"
VERSIONS = ("v5", "v3.1.1")
TITLES = {"v5": "MQTT 5.0", "v3.1.1": "MQTT 3.1.1"}


def workspace_reader():
    """The workspace's conformance script, whose functions read the tests."""
    path = ROOT.parent / "scripts" / "conformance.py"
    spec = importlib.util.spec_from_file_location("workspace_conformance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


READER = workspace_reader()
id_key = READER.id_key


def tests_citing(log=None):
    """{(version, id): {crate: {test: [via, ...]}}} over the tests of tests/."""
    units = READER.read_units(ROOT, {"mqttkit-session": ROOT})
    units = [u for u in units if u.rel.startswith("tests/")]
    return READER.credits(units, log)


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
            tests = found.get((version, statement), {})
            if what == "client":
                (covered if tests else missing).append((statement, tests))
            elif tests:
                # A test of another role, or one that checks the statement
                # in passing: shown, still not a client statement.
                cited = READER.test_cell(tests, "", shown=READER.SHOWN).replace("<br>", ", ")
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
            cell = READER.test_cell(tests, "") or "**none**"
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
                cell = READER.test_cell(found[(version, statement)], "")
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
        "Generated by `scripts/conformance.py` from `conformance-scope.tsv` and the tests in",
        "`tests/`; do not edit by hand. Every normative statement of MQTT 5.0 (251) and of",
        "the MQTT 3.1.1 list in `shared/spec` (128) is either a client statement, cited by",
        "at least one test that runs that version (`/// v5 [MQTT-x.y.z-n]`), or not",
        "applicable to a client session state machine, with the reason. A citation counts",
        "in a `#[test]` function (doc comment, name or body) or in a case table or helper",
        "that such a test uses (shown as *via* it), and only for the versions the test",
        "runs.",
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
    parser.add_argument(
        "--verbose", action="store_true", help="print the citations dropped for their version"
    )
    args = parser.parse_args()
    log = (lambda line: print(line, file=sys.stderr)) if args.verbose else None
    scope = read_scope()
    text, errors = render(scope, tests_citing(log))
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
