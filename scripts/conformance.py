#!/usr/bin/env python3
"""Writes docs/conformance.md: which normative statements the crates' tests check.

For MQTT 5.0 and 3.1.1 (the statement lists in ../shared/spec), every
statement is either cited by at least one test of mqttkit-codec,
mqttkit-topic, mqttkit-session, mqttkit-tokio or mqttkit-broker, or listed
in docs/conformance-scope.tsv with the reason it is not: `library` (not
applicable to a library), `application` (left to the application built on
the crates) or `todo` (not yet done).

What counts as a test. Test code is each crate's tests/ folder and the
brace-matched `#[cfg(test)] mod NAME { ... }` blocks of its sources; any
other `#[cfg(test)]` item, and all library code, is never read. In test
code, a citation counts only where a test runs it:

- a test function, `#[test]` or `#[tokio::test...]` (proptest's
  `proptest! { #[test] fn ... }` included): its doc comment, name, signature
  and body;
- a test made by a `macro_rules!` of the test code that expands to `#[test]`
  functions: each entry of its invocation (doc comment, name, arguments);
- a case table used by a test: a `const`, `static` or `fn` item of test code
  whose name a test's body names (directly, or through another such item it
  names). Its citations (doc comment, body, string literals such as `"v5
  [MQTT-4.7.1-1]"` included) are credited to each test that uses it, shown
  as `(via NAME)`.

A citation anywhere else (module docs, an unused helper) does not count.

How a citation is read: `v5` or `v3.1.1` sets the version for the
`[MQTT-x.y.z-n]` ids that follow, `[MQTT-a-1] to [MQTT-a-5]` is a range,
and a name such as `v5_mqtt_3_1_0_1_...` cites v5 [MQTT-3.1.0-1].

A citation counts for the version the test runs. The versions a test runs
are read from its code (comments and string contents left out, except the
peers' version names `mqttv5`/`mqttv311`): v5 from `ProtocolVersion::V5`,
`V5`, `Version::V5` or an identifier with a `v5` part (`v5_connect`,
`connect_v5`; `is_v5` excepted); 3.1.1 from `V3_1_1`, `V311`, `V3`, or an
identifier with a `v3`, `v311` or `v3_1_1` part; 3.1 (`V3_1`) counts for
neither. A test without such evidence takes that of the case tables and
helpers it uses. A test with evidence gets credit only for citations of the
versions it runs; one with none at all (version-independent code, such as
topic validation) keeps all its citations. `--verbose` prints, to stderr,
each citation dropped for a version mismatch.

    python3 scripts/conformance.py                       # write docs/conformance.md
    python3 scripts/conformance.py --check               # fail if stale or incomplete
    python3 scripts/conformance.py --spec ../shared/spec # the statement lists (default)
    python3 scripts/conformance.py --verbose             # also list dropped citations

It fails when a statement is neither covered nor explained, when the scope
explains a statement that a test now covers (so the reason is stale), or
with --check when docs/conformance.md differs from what it would write.
mqtt-session/scripts/conformance.py reads the tests with the functions here.
"""

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCOPE = ROOT / "docs" / "conformance-scope.tsv"
OUT = ROOT / "docs" / "conformance.md"
# The merged outcomes of the mutation runs (docs/mutants.md).
MUTANTS = ROOT / "docs" / "mutants-results.jsonl"
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
# How many tests a report cell lists before it says how many more.
SHOWN = 4

TOKEN = re.compile(
    r"\b(v5|v3\.1\.1)\b|\[MQTT-(\d+\.\d+\.\d+)-(\d+)\](?:\s+to\s+\[MQTT-(\d+\.\d+\.\d+)-(\d+)\])?"
)
NAME_ID = re.compile(r"(?:^|_)(v5|v3_1_1|v311)_mqtt_(\d+)_(\d+)_(\d+)_(\d+)")


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


# ---------------------------------------------------------------------------
# Reading the tests (mqtt-session/scripts/conformance.py uses these too).

TEST_ATTR = re.compile(r"#\[(?:test|tokio::test)\b")
ITEM = re.compile(
    r"\b(?:async\s+)?fn\s+([A-Za-z_]\w*)|\b(?:const|static)\s+(?:mut\s+)?([A-Za-z_]\w*)\s*:"
)
MACRO_RULES = re.compile(r"\bmacro_rules!\s*([A-Za-z_]\w*)\s*[{(\[]")
CFG_TEST_MOD = re.compile(
    r"#\[cfg\(test\)\]\s*(?:#!?\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*([{;])"
)
IDENT = re.compile(r"[A-Za-z_]\w*")
PATH_NAME = re.compile(r"(?:([A-Za-z_]\w*)\s*::\s*)?([A-Za-z_]\w*)")
BLOCK = re.compile(r"\b(?:impl|trait)\b[^{;]*\{")
PEER_VERSION = re.compile(r'"mqttv(5|311)"', re.IGNORECASE)
# A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
CHAR = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")


def mask(text):
    """`text` with its comments and the insides of its string and char
    literals blanked (newlines kept): offsets still match, and the brackets,
    semicolons and names left are those of the code."""
    out, i, n = list(text), 0, len(text)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "rb" and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")) and (
            m := re.match(r'b?r(#*)"', text[i : i + 260])
        ):
            start = i + len(m.group(0))
            j = text.find('"' + m.group(1), start)
            j = n if j < 0 else j
            blank(start, j)
            i = j + 1 + len(m.group(1))
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            m = CHAR.match(text, i)
            if m:
                blank(i + 1, i + len(m.group(0)) - 1)
                i += len(m.group(0))
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def closing(code, i):
    """Offset just past the bracket that closes the one at `code[i]`."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] in "([{":
            depth += 1
        elif code[j] in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(code)


def item_end(code, i, is_fn):
    """Offset past the item whose name ends at `i`: past the body of a
    `fn`, past the `;` of a `const` or `static` (or of a `fn` without body)."""
    j = i
    while j < len(code):
        ch = code[j]
        if ch == "{" and is_fn:
            return closing(code, j)
        if ch in "([{":
            j = closing(code, j)
            continue
        if ch == ";":
            return j + 1
        if ch in ")]}":  # the enclosing block ends first
            return j
        j += 1
    return len(code)


def item_header(text, start):
    """(doc, attributes): the doc comments and attributes right above the
    line of offset `start`; plain comments among them are skipped."""
    line_start = text.rfind("\n", 0, start) + 1
    head, doc, attrs = line_start, [], []
    while head > 0:
        prev = text.rfind("\n", 0, head - 1) + 1
        line = text[prev : head - 1].strip()
        if line.startswith("///"):
            doc.insert(0, line[3:])
        elif line.startswith("#["):
            attrs.insert(0, line)
        elif not line.startswith("//"):
            break
        head = prev
    return " ".join(doc), attrs


def versions_in(code, raw=""):
    """The protocol versions that a piece of test code runs, as evidence
    read from its names: a subset of {"v5", "v3.1.1", "v3.1"}."""
    found = set()
    for token in IDENT.findall(code):
        parts = token.lower().split("_")
        if parts[0] in ("is", "as", "to", "supports"):
            continue  # a question about a version, not a choice of one
        for k, part in enumerate(parts):
            if part == "v5":
                found.add("v5")
            elif part == "v311":
                found.add("v3.1.1")
            elif part == "v3":
                after = parts[k + 1 : k + 3]
                if after == ["1", "1"]:
                    found.add("v3.1.1")
                elif after[:1] == ["1"]:
                    found.add("v3.1")
                else:
                    found.add("v3.1.1")
    for m in PEER_VERSION.finditer(raw):
        found.add("v5" if m.group(1) == "5" else "v3.1.1")
    return frozenset(found)


def references(code):
    """(module or None, name) of each path in `code` that can name an item
    of the test code: not a method (`.name`), a macro (`name!`) or an item of
    a type (`Type::name`)."""
    found = set()
    for m in PATH_NAME.finditer(code):
        before = code[: m.start()].rstrip()[-1:]
        after = code[m.end() :].lstrip()[:1]
        module, name = m.group(1), m.group(2)
        if before == "." or after == "!" or (module and module[0].isupper()):
            continue
        if module in ("self", "super", "crate", "tests"):
            module = None
        found.add((module, name))
    # Local names (`let x`, `for x in`, a closure's or a proptest's `x in`,
    # a parameter `x:`) are not items, whatever helper shares their name.
    bound = set(re.findall(r"\blet\s+(?:mut\s+)?([a-z_]\w*)", code))
    bound |= set(re.findall(r"\b([a-z_]\w*)\s+in\b", code))
    bound |= set(re.findall(r"[(|,]\s*(?:mut\s+)?([a-z_]\w*)\s*[:|,)]", code))
    return {(m, n) for m, n in found if m or n not in bound}


def program(base, path):
    """The test program that a file of test code of the crate in `base`
    belongs to: `tests/x.rs` and `tests/x/*.rs` (with a `tests/x/main.rs`)
    are program x; a folder of tests/ without main.rs holds modules that
    several share (`common`); the sources are one program."""
    rest = path.relative_to(base).parts
    if rest[0] != "tests":
        return ("src",)
    if len(rest) == 2:
        return ("tests", path.stem)
    if (base / "tests" / rest[1] / "main.rs").exists():
        return ("tests", rest[1])
    return ("shared", rest[1])


class Unit:
    """A test, or an item of test code that a test may use (a case table)."""

    def __init__(self, crate, rel, name, is_test, text, code, is_fn=True):
        self.crate, self.rel, self.name, self.is_test = crate, rel, name, is_test
        self.cites = list(dict.fromkeys(list(cited_ids(text)) + list(named_ids(name))))
        self.versions = versions_in(code, text)
        self.is_table = not is_fn
        self.is_pub = False
        self.program = None
        self.refs = references(code) - {(None, name)}

    @property
    def label(self):
        return f"{self.rel}::{self.name}"


def units_in(crate, rel, text, code, begin, end):
    """The units of test code in `text[begin:end]` (`code` is `mask(text)`)."""
    units, skip = [], []
    # Macros of the test code that expand to test functions, and the tests
    # their invocations make: one per `;`-separated entry, named by its
    # first `name:`.
    for m in MACRO_RULES.finditer(code, begin, end):
        body_end = closing(code, m.end() - 1)
        skip.append((m.start(), body_end))
        if not TEST_ATTR.search(text, m.end(), body_end):
            continue
        call = re.compile(r"\b" + re.escape(m.group(1)) + r"!\s*[{(\[]")
        for c in call.finditer(code, begin, end):
            close = closing(code, c.end() - 1)
            skip.append((c.start(), close))
            at = c.end()
            while at < close - 1:
                stop = item_end(code, at, False)
                row, row_code = text[at:stop], code[at:stop]
                named = re.match(r"\s*(?:#!?\[[^\]]*\]\s*)*([A-Za-z_]\w*)\s*:", row_code)
                if named:
                    rest = row_code[named.end() :]
                    units.append(Unit(crate, rel, named.group(1), True, row, rest))
                at = max(stop, at + 1)
    # Methods are the helpers of a type, never a test's table of cases.
    for m in BLOCK.finditer(code, begin, end):
        skip.append((m.start(), closing(code, m.end() - 1)))
    for m in ITEM.finditer(code, begin, end):
        if any(a <= m.start() < b for a, b in skip):
            continue
        is_fn = m.group(1) is not None
        name = m.group(1) or m.group(2)
        stop = item_end(code, m.end(), is_fn)
        doc, attrs = item_header(text, m.start())
        is_test = is_fn and any(TEST_ATTR.match(a) for a in attrs)
        body = text[m.start() : stop]
        unit = Unit(crate, rel, name, is_test, doc + "\n" + body, code[m.end() : stop], is_fn)
        before = code[text.rfind("\n", 0, m.start()) + 1 : m.start()]
        unit.is_pub = re.search(r"\bpub\b", before) is not None
        units.append(unit)
        # Items inside this one are part of it.
        skip.append((m.start(), stop))
    return units


def test_regions(code):
    """(begin, end) spans of test code in a source file: the brace-matched
    blocks of its `#[cfg(test)] mod NAME { ... }` (an out-of-line
    `#[cfg(test)] mod NAME;` makes its whole file test code, see
    `test_files`)."""
    end = 0
    for m in CFG_TEST_MOD.finditer(code):
        if m.group(2) == "{" and m.start() >= end:
            end = closing(code, m.end() - 1)
            yield m.start(), end


def test_files(base):
    """(path, is_whole_file) of a crate's files holding test code."""
    for path in sorted((base / "tests").rglob("*.rs")):
        if "node_modules" not in path.parts:
            yield path, True
    for path in sorted((base / "src").rglob("*.rs")):
        code = mask(path.read_text("utf-8"))
        yield path, False
        for m in CFG_TEST_MOD.finditer(code):
            if m.group(2) == ";":
                here = path.parent if path.name in ("mod.rs", "lib.rs") else path.with_suffix("")
                for sub in (here / f"{m.group(1)}.rs", here / m.group(1) / "mod.rs"):
                    if sub.exists():
                        yield sub, True


def read_units(root, crates):
    """Every unit of the test code of `crates` ({crate: folder}); paths are
    relative to `root`."""
    units, seen = [], set()
    for crate, folder in crates.items():
        for path, whole in test_files(folder):
            if (path, whole) in seen:
                continue
            seen.add((path, whole))
            text = path.read_text("utf-8")
            code = mask(text)
            rel = path.relative_to(root).as_posix()
            for begin, end in [(0, len(text))] if whole else test_regions(code):
                for unit in units_in(crate, rel, text, code, begin, end):
                    unit.program = program(folder, path)
                    units.append(unit)
    return units


def resolve(units):
    """{id(test): [(item, via)]}: the items each test uses. A test uses the
    items its code names, and the constant tables those name in turn (a
    helper function's own helpers are not counted); `via` is the item the
    test itself names. A name is looked up where Rust would find it: the
    same file, the same test program, then the shared modules of the crate's
    tests (or, in sources, the other test modules of the crate)."""
    by_name = {}
    for u in units:
        if not u.is_test:
            by_name.setdefault(u.name, []).append(u)

    def lookup(user, module, name):
        candidates = [c for c in by_name.get(name, []) if c.crate == user.crate]
        if module:
            candidates = [
                c
                for c in candidates
                if module in c.rel.split("/")[:-1] or c.rel.endswith(f"/{module}.rs")
            ]
        home = user.program
        for near in (
            lambda c: c.rel == user.rel,
            lambda c: c.program == home and (home != ("src",) or c.is_pub),
            lambda c: home[0] != "src" and c.program[0] == "shared",
        ):
            found = [c for c in candidates if near(c) and c is not user]
            if found:
                return found
        return []

    used = {}
    for test in (u for u in units if u.is_test):
        reached, queue = {}, []
        for module, name in sorted(test.refs, key=str):
            for item in lookup(test, module, name):
                if id(item) not in reached:
                    reached[id(item)] = (item, item.name)
                    queue.append((item, item.name))
        while queue:
            item, via = queue.pop()
            if not item.is_table:
                continue  # a helper function's own helpers are not the test's
            for module, name in sorted(item.refs, key=str):
                for nxt in lookup(item, module, name):
                    if id(nxt) not in reached:
                        reached[id(nxt)] = (nxt, via)
                        queue.append((nxt, via))
        used[id(test)] = list(reached.values())
    return used


def credits(units, log=None):
    """{(version, id): {crate: {test label: [via, ...]}}}: the citations each
    test gets credit for. A test's versions are those of its own code, else
    those of the items it uses; without any, it keeps all its citations.
    Each citation of a version the test does not run is dropped (and, with
    `log`, printed)."""
    used = resolve(units)
    found = {}
    for test in units:
        if not test.is_test:
            continue
        items = used[id(test)]
        runs = test.versions or frozenset().union(*(i.versions for i, _ in items))
        cites = [(key, None) for key in test.cites]
        cites += [(key, via) for item, via in items for key in item.cites]
        for (version, statement), via in cites:
            if runs and version not in runs:
                if log:
                    shown = ", ".join(sorted(runs))
                    how = f" (via {via})" if via else ""
                    log(f"dropped {version} [{statement}]{how}: {test.label} runs {shown}")
                continue
            vias = found.setdefault((version, statement), {}).setdefault(test.crate, {})
            vias.setdefault(test.label, [])
            if via not in vias[test.label]:
                vias[test.label].append(via)
    return found


def test_cell(by_crate, link_prefix, shown=SHOWN):
    """The tests of one statement as markdown links to their files: all of
    them, or the first `shown` and how many more."""
    tests = sorted(
        (label, vias) for named in by_crate.values() for label, vias in named.items()
    )
    cells = []
    for label, vias in tests[:shown]:
        rel = label.split("::", 1)[0]
        how = "" if None in vias else " (via " + ", ".join(f"`{v}`" for v in vias) + ")"
        cells.append(f"[`{label}`]({link_prefix}{rel}){how}")
    if len(tests) > shown:
        cells.append(f"and {len(tests) - shown} more")
    return "<br>".join(cells)


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


def read_mutants():
    """(version, statement) -> caught and tested mutants in the library
    functions that cite it. Timeouts count as caught: the mutant made a test
    hang, and the test run noticed."""
    evidence = {}
    if not MUTANTS.exists():
        return evidence
    for line in MUTANTS.read_text("utf-8").splitlines():
        mutant = json.loads(line)
        if mutant["outcome"] == "unviable":
            continue
        for cited in mutant.get("statements", []):
            version, _, statement = cited.partition(" ")
            counts = evidence.setdefault((version, statement.strip("[]")), [0, 0])
            counts[0] += mutant["outcome"] in ("caught", "timeout")
            counts[1] += 1
    return evidence


def mutant_cell(counts):
    if not counts:
        return "–"
    caught, tested = counts
    return f"{caught} / {tested}" + ("" if caught == tested else " **survivor**")


def read_lists(spec_dir):
    lists = {}
    for version, name in LISTS.items():
        statements = json.loads((spec_dir / name).read_text("utf-8"))
        lists[version] = sorted({s["id"] for s in statements}, key=id_key)
    return lists


def render(lists, scope, found, mutants):
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
        proven = sum(
            1 for statement, _ in covered
            if mutants.get((version, statement), (0, 0))[0] > 0
        )
        summary.append(
            (version, len(lists[version]), len(covered), proven, per_category, len(extra))
        )
        body += ["", f"## {TITLES[version]}"]
        # Proven first; the weaker evidence listed apart.
        proven_rows = [c for c in covered if mutants.get((version, c[0]), (0, 0))[0] > 0]
        weaker_rows = [c for c in covered if mutants.get((version, c[0]), (0, 0))[0] == 0]
        for title, rows in (
            ("Covered by tests, proven by a caught mutant", proven_rows),
            ("Covered by tests, no caught mutant yet (weaker evidence)", weaker_rows),
        ):
            body += [
                "",
                f"### {title}",
                "",
                "| Statement | Crates (tests) | Tests | Mutants caught / tested |",
                "|---|---|---|---|",
            ]
            for statement, by_crate in rows:
                crates = ", ".join(f"{c} ({len(t)})" for c, t in sorted(by_crate.items()))
                body.append(
                    f"| {version} [{statement}] | {crates} | {test_cell(by_crate, '../')} "
                    f"| {mutant_cell(mutants.get((version, statement)))} |"
                )
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
                cell = test_cell(found[(version, statement)], "../")
                body.append(f"| {version} [{statement}] | {cell} |")
    head = [
        "# Conformance report of the workspace",
        "",
        "Generated by `scripts/conformance.py` from the tests of `mqttkit-codec`, `mqttkit-topic`,",
        "`mqttkit-session`, `mqttkit-tokio` and `mqttkit-broker` and from",
        "`docs/conformance-scope.tsv`; do not edit by hand (CI checks it is fresh). Every",
        "normative statement of the MQTT 5.0 and 3.1.1 lists in `../shared/spec` is either",
        "cited by a test that runs that version, or explained: not applicable to a library,",
        "left to the application, or not yet done.",
        "",
        "A citation counts when it is in a `#[test]` or `#[tokio::test]` function (doc comment,",
        "name or body), or in a case table or helper of the test code that such a test uses",
        "(shown as *via* it), and only for the versions the test runs: a test that connects",
        "with `ProtocolVersion::V5` only covers no 3.1.1 statement. Tests that name no",
        "version (topic validation, say) count for both.",
        "",
        "The last column of each table is the evidence of the mutation runs",
        "([mutants.md](mutants.md)): of the mutants made in the library functions that",
        "cite the statement, how many the tests caught. A statement is *proven by a caught",
        "mutant* when at least one was; a *survivor* is a change to the code keeping the",
        "rule that no test noticed. A dash is weaker evidence: no mutant of a function",
        "citing the statement has been tested, because the runs have not reached it or",
        "no library function cites it (a rule kept by a type, say).",
        "",
        "| Version | Statements | Covered by tests | Proven by a caught mutant "
        "| Not applicable to a library | Left to the application | Not yet done "
        "| Cited ids outside the list |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for version, total, covered, proven, per, extra in summary:
        head.append(
            f"| {TITLES[version]} | {total} | {covered} | {proven} | {per['library']} "
            f"| {per['application']} | {per['todo']} | {extra} |"
        )
    return "\n".join(head + body) + "\n", errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the report is stale")
    parser.add_argument("--spec", type=pathlib.Path, default=ROOT.parent / "shared" / "spec")
    parser.add_argument(
        "--verbose", action="store_true", help="print the citations dropped for their version"
    )
    args = parser.parse_args()
    log = (lambda line: print(line, file=sys.stderr)) if args.verbose else None
    units = read_units(ROOT, {crate: ROOT / folder for crate, folder in CRATES.items()})
    text, errors = render(
        read_lists(args.spec), read_scope(), credits(units, log), read_mutants()
    )
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
