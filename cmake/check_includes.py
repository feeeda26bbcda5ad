#!/usr/bin/env python3
"""Checks that every module includes only the headers of the modules it may depend on.

The modules and their intended arrows are in ARROWS below (docs/architecture.md draws them).
A module may include its own headers and those of every module below it; CMake must declare
each module it includes directly (target_link_libraries in CMakeLists.txt), and may declare no
module outside the arrows, so that neither the sources nor the build can grow an arrow that is
not meant to exist.

Usage: check_includes.py [--root DIR] [--inject FILE=HEADER ...]
  --inject adds `#include "HEADER"` to FILE (relative to the root) for this run only; ctest uses
  it to show that a wrong include is caught.
Exit status 0 when every include holds, 1 with one line per violation otherwise.
"""

import argparse
import pathlib
import re
import sys

# module -> the modules it depends on directly (the design's arrows).
ARROWS = {
    "base": [],
    "codec": ["base"],
    "platform": ["base"],
    "os": [],
    "broker": ["codec", "base"],
    "store": ["platform", "os"],
    "service": ["broker", "store", "platform"],
    "net": ["service", "codec"],
    "http": ["service"],
    "app": ["net", "http", "service"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)
LINK = re.compile(r"target_link_libraries\(\s*plugmq_(\w+)\s+(?:PUBLIC|PRIVATE|INTERFACE)?([^)]*)\)",
                  re.DOTALL)


def below(module):
    """Every module that `module` may use: its arrows, followed to the bottom."""
    seen, todo = set(), list(ARROWS[module])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(ARROWS[m])
    return seen


def module_of_include(header):
    """The module a header belongs to: plugmq/<m>/... or a path into src/<m>/."""
    m = re.match(r"plugmq/(\w+)/", header)
    if m:
        return m.group(1)
    m = re.search(r"(?:^|/)src/(\w+)/", header)
    return m.group(1) if m else None


def files_of(root, module):
    """(path, kind) of every file that belongs to `module`: its sources, headers and unit tests."""
    for base, kind in ((root / "src" / module, "source"),
                       (root / "include" / "plugmq" / module, "source"),
                       (root / "tests" / "unit" / module, "test")):
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.suffix in (".cpp", ".hpp", ".h", ".cc"):
                    yield p, kind


def declared_links(root):
    text = (root / "CMakeLists.txt").read_text()
    links = {}
    for m in LINK.finditer(text):
        links.setdefault(m.group(1), set()).update(re.findall(r"\bplugmq_(\w+)", m.group(2)))
    return links


def check(root, injected):
    problems = []
    links = declared_links(root)
    for module in ARROWS:
        allowed = below(module) | {module}
        used = set()
        for path, kind in files_of(root, module):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(errors="replace") + "".join(
                f'\n#include "{h}"\n' for h in injected.get(rel, []))
            for header in INCLUDE.findall(text):
                target = module_of_include(header)
                if target is None or target not in ARROWS:
                    continue
                if target not in allowed:
                    problems.append(f"{rel}: includes {header}, but {module} may not depend on "
                                    f"{target} (allowed: {', '.join(sorted(allowed))})")
                if kind == "source" and target != module:
                    used.add(target)
        declared = links.get(module, set())
        for target in sorted(declared - below(module)):
            problems.append(f"CMakeLists.txt: plugmq_{module} links plugmq_{target}, an arrow the "
                            f"design does not have")
        for target in sorted((used & below(module)) - declared):
            problems.append(f"CMakeLists.txt: plugmq_{module} includes {target}'s headers without "
                            f"linking plugmq_{target}")
        for target in sorted(declared - used - {module}):
            problems.append(f"CMakeLists.txt: plugmq_{module} links plugmq_{target} but includes "
                            f"none of its headers")
    unknown = {d.name for d in (root / "src").iterdir() if d.is_dir()} - set(ARROWS)
    for name in sorted(unknown):
        problems.append(f"src/{name}: a module missing from ARROWS in cmake/check_includes.py")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent)
    parser.add_argument("--inject", action="append", default=[], metavar="FILE=HEADER")
    args = parser.parse_args()
    injected = {}
    for item in args.inject:
        file, _, header = item.partition("=")
        if not header:
            parser.error(f"--inject {item}: expected FILE=HEADER")
        if not (args.root / file).is_file():
            parser.error(f"--inject {item}: no such file {file}")
        injected.setdefault(file, []).append(header)
    problems = check(args.root, injected)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) or link(s) against the module arrows")
        return 1
    print("every include follows the module arrows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
