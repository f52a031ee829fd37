#!/usr/bin/env python3
"""The house rules of the source tree, checked (run by scripts/test.sh).

For every crate of the workspace:
  - no import circle between files: a file's imports are the modules named by its
    `crate::`, `super::` and `self::` paths and its `use child::...` lines (in `use`
    lines and in code; tests, which import what they test, left out); declaring a child
    (`mod x;`) is not an import, re-exporting one (`pub use x::Y;`) is;
  - every file opens with a module doc (`//!`), and no file is longer than MAX_LINES;
  - a folder's `mod.rs` (and a crate's `lib.rs`) names each module it declares in its
    doc, so that the doc of a room lists what is in it.

Prints each circle as the files on it, and exits 1 if anything is wrong.
"""
import os
import re
import sys

MAX_LINES = 650
CRATES = ["wire", "zonedb", "io", "engine", "benches", "loadtest", "fuzz"]

USE_RE = re.compile(r"\buse\s+((?:crate|super|self)(?:::\s*)[^;]*);", re.S)
# `use child::item;`: a path relative to the current module (Rust 2018), through one of
# its own child modules.
REL_USE_RE = re.compile(r"\buse\s+([a-z_][a-z0-9_]*::[^;]*);", re.S)
PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_files(src):
    """Map module path (tuple) to file, for one crate's src/."""
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(root, f)
            rel = os.path.relpath(full, src)[:-3].split(os.sep)
            if rel == ["lib"] or rel == ["main"]:
                path = ()
            elif rel[-1] == "mod":
                path = tuple(rel[:-1])
            else:
                path = tuple(rel)
            if rel[0] == "bin" or (rel == ["main"] and os.path.exists(os.path.join(src, "lib.rs"))):
                continue  # a binary is its own crate
            mods[path] = full
    return mods


def strip_comments(text):
    out = []
    for line in text.splitlines():
        s = line.lstrip()
        if s.startswith("//"):
            out.append("")
            continue
        # drop string literals, then trailing comments
        line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
        i = line.find("//")
        out.append(line[:i] if i >= 0 else line)
    return "\n".join(out)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (renames dropped)."""
    tree = re.sub(r"\s+", " ", tree).strip()
    i = tree.find("{")
    if i < 0:
        return [tree.split(" as ")[0].strip()]
    prefix = tree[:i].rstrip(": ")
    body = tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p == "self":
            out.append(prefix)
        else:
            out.extend(prefix + "::" + q for q in expand_use(p))
    return out


def resolve(path, here, mods):
    """The module file a path points into: the deepest existing module prefix."""
    segs = [s.strip() for s in path.split("::")]
    if segs[0] == "crate":
        base = []
        segs = segs[1:]
    else:
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    full = base + segs
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return ()


def check_crate(name, root):
    src = os.path.join(root, name, "src")
    if not os.path.isdir(src):
        return []
    mods = module_files(src)
    problems = []
    deps = {m: set() for m in mods}
    for m, f in mods.items():
        text = open(f, encoding="utf-8").read()
        lines = text.count("\n") + 1
        rel = os.path.relpath(f, root)
        if lines > MAX_LINES:
            problems.append(f"{rel}: {lines} lines (more than {MAX_LINES})")
        if not text.lstrip().startswith("//!"):
            problems.append(f"{rel}: no module doc (`//!`) at the top")
        if f.endswith(("mod.rs", "lib.rs")):
            doc = "\n".join(l for l in text.splitlines() if l.startswith("//!"))
            declared = re.findall(r"^\s*(?:pub(?:\([a-z]+\))? )?mod (\w+);", text, re.M)
            unnamed = [d for d in declared if d != "tests" and not re.search(r"\b" + d + r"\b", doc)]
            if unnamed:
                problems.append(f"{rel}: the module doc does not name {', '.join(unnamed)}")
        code = strip_comments(text)
        # Tests are not part of the structure: an inline `mod tests { ... }` (the rest of
        # the file, by convention) and test files (`tests.rs`) import what they test.
        if m and m[-1] == "tests":
            continue
        split = re.search(r"^\s*#\[cfg\(test\)\]\s*mod tests \{", code, re.M)
        parts = [(code if not split else code[: split.start()], m)]
        paths = []
        for part, here in parts:
            found = []
            for u in USE_RE.finditer(part):
                found.extend(expand_use(u.group(1)))
            for u in REL_USE_RE.finditer(part):
                first = u.group(1).split("::")[0].strip()
                if first not in ("crate", "super", "self") and here + (first,) in mods:
                    found.extend("self::" + p for p in expand_use(u.group(1)))
            found.extend(PATH_RE.findall(part))
            paths.extend((p, here) for p in found)
        for p, here in paths:
            target = resolve(p, here, mods)
            # a parent declaring/using a child through `self::` counts; a module never
            # depends on itself
            if target != m:
                deps[m].add(target)
    # Circles: strongly connected components with more than one file.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    for comp in sccs:
        files = sorted(os.path.relpath(mods[c], root) for c in comp)
        edges = sorted(
            f"{os.path.relpath(mods[a], root)} -> {os.path.relpath(mods[b], root)}"
            for a in comp
            for b in deps[a]
            if b in comp
        )
        problems.append(f"{name}: import circle between {', '.join(files)}:\n    " + "\n    ".join(edges))
    return problems


def main():
    default = os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default)
    problems = []
    for c in CRATES:
        problems.extend(check_crate(c, root))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"layout: {len(CRATES)} crates, no import circle, every file documented and under {MAX_LINES} lines")


if __name__ == "__main__":
    main()
