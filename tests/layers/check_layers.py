#!/usr/bin/env python3
"""Checks that the engine's includes respect its layers.

webhook/engine/ is built in layers, each allowed to include only itself and
the layers below it (webhook/engine/README.md):

    base <- reading <- facts <- policy <- rules <- admission

and nothing in the engine may include the server, the registry client or the
CLI. Any file under webhook/engine/<layer>/ that includes a header of a layer
above it, or outside the engine, fails the check, with the file, the line and
the include. Also fails when a layer folder is missing or a file sits outside
the layers, so a new folder cannot slip past it.

    check_layers.py [SOURCE_DIR]
"""
import pathlib
import re
import sys

LAYERS = ["base", "reading", "facts", "policy", "rules", "admission"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(relative: pathlib.PurePosixPath):
    """The layer a path under webhook/engine belongs to, or None."""
    return relative.parts[0] if relative.parts and relative.parts[0] in LAYERS else None


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    engine = root / "webhook" / "engine"
    problems = []
    for layer in LAYERS:
        if not (engine / layer).is_dir():
            problems.append(f"{engine / layer}: layer folder missing")
    checked = 0
    for path in sorted(engine.rglob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        rel = pathlib.PurePosixPath(path.relative_to(engine).as_posix())
        own = layer_of(rel)
        if own is None:
            problems.append(f"webhook/engine/{rel}: not inside a layer folder ({', '.join(LAYERS)})")
            continue
        checked += 1
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = pathlib.PurePosixPath(match.group(1))
            where = f"webhook/engine/{rel}:{number}"
            if target.parts[0] != "engine":
                problems.append(f'{where}: includes "{target}", outside the engine')
                continue
            other = layer_of(pathlib.PurePosixPath(*target.parts[1:]))
            if other is None:
                problems.append(f'{where}: includes "{target}", which is in no layer')
            elif LAYERS.index(other) > LAYERS.index(own):
                problems.append(f'{where}: includes "{target}": layer {own} may not include {other}, a layer above it')
    if checked == 0:
        problems.append(f"{engine}: no sources found")
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        return 1
    print(f"ok: {checked} engine files, includes point only down: {' <- '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
