#!/usr/bin/env python3
"""Writes the values table of a chart's README from the comments in its
values.yaml, between the lines <!-- values-table:begin --> and
<!-- values-table:end -->.

    scripts/chart-values-table.py [CHART_DIR]           rewrite README.md
    scripts/chart-values-table.py --check [CHART_DIR]   exit 1 when it is stale

The comment lines right above a key (no blank line between) document it. A
mapping whose keys have no comments of their own is one row, its default
written inline; otherwise each key is a row of its own. Every key must be
documented, by itself or by such a mapping: an undocumented key is an error,
so the table never silently misses a value. Only the YAML that values.yaml
uses is read: block mappings, and scalars or flow collections on one line.
"""
import os
import re
import sys

BEGIN = "<!-- values-table:begin -->"
END = "<!-- values-table:end -->"
KEY = re.compile(r"^( *)([A-Za-z0-9_.\-/]+):(?: (.*))?$")


class Node:
    def __init__(self, path, doc, value, line):
        self.path = path      # dotted path
        self.doc = doc        # comment text, "" when none
        self.value = value    # the inline value text, None for a mapping
        self.children = []
        self.line = line


def parse(text, source):
    root = Node("", "", None, 0)
    stack = [(-1, root)]
    comment = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped[1:].strip())
            continue
        if stripped.startswith("- "):
            sys.exit(f"{source}:{number}: block lists are not supported here; write the list inline, [a, b]")
        match = KEY.match(line)
        if not match:
            sys.exit(f"{source}:{number}: cannot read this line: {line}")
        indent, key, value = len(match.group(1)), match.group(2), match.group(3)
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        path = f"{parent.path}.{key}" if parent.path else key
        node = Node(path, " ".join(comment), value, number)
        comment = []
        parent.children.append(node)
        if value is None or value == "":
            node.value = None
            stack.append((indent, node))
    return root


def documented_below(node):
    return any(c.doc or documented_below(c) for c in node.children)


def inline(node):
    if node.value is not None:
        return node.value
    return "{" + ", ".join(f"{c.path.rsplit('.', 1)[-1]}: {inline(c)}" for c in node.children) + "}"


def rows(node, source, out):
    for child in node.children:
        if child.value is None and documented_below(child):
            if child.doc:
                out.append((child.path, "", child.doc))
            rows(child, source, out)
            continue
        if not child.doc:
            sys.exit(f"{source}:{child.line}: {child.path} has no comment: document it in values.yaml")
        out.append((child.path, inline(child), child.doc))
    return out


def cell(text):
    """Escapes a table cell; `<name>` outside code spans would be read as HTML."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(values_path):
    with open(values_path, encoding="utf-8") as f:
        root = parse(f.read(), values_path)
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for path, default, doc in rows(root, values_path, []):
        escaped = default.replace("|", "\\|")
        shown = f"`{escaped}`" if default else ""
        lines.append(f"| `{path}` | {shown} | {cell(doc)} |")
    return "\n".join(lines) + "\n"


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    chart = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "charts", "podguard")
    readme_path = os.path.join(chart, "README.md")
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        sys.exit(f"{readme_path}: no {BEGIN} ... {END} section")
    wanted = readme[: start + len(BEGIN)] + "\n" + table(os.path.join(chart, "values.yaml")) + readme[end:]
    if wanted == readme:
        return 0
    if check:
        print(f"{readme_path}: the values table is out of date; run scripts/chart-values-table.py", file=sys.stderr)
        return 1
    with open(readme_path, "w", encoding="utf-8") as f:
        f.write(wanted)
    print(f"{readme_path}: values table written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
