#!/usr/bin/env python3
"""test/include_graph.py [ROOT] - checks the graph of quoted includes.

Reads every src/**/*.c and src/**/*.h under ROOT (default: the checkout this
script is in), resolves each `#include "name"` as the compiler does (the
including file's directory first, then src/core, which PG_CPPFLAGS puts on
the path, then the checkout's root, PGXS's -I.), and fails when

  - the graph has a circle: a header that, through the headers it
    includes, includes itself again (header guards make such a circle
    compile, but then neither header can be read without the other),
  - the modules have a circle: a module is a .c file and its .h (src/x.c
    and src/x.h; a file alone is a module of its own), and module x
    depends on module y when x.c or x.h includes y.h.  Files can be
    free of circles while modules are not (x.c includes y.h, y.c
    includes x.h): then neither module can be understood, built or tested
    without the other, and one belongs beneath the other, or
  - a file of the pure core (src/core/) includes a header that is not in
    src/core/: the core reaches down to the C library, cJSON and libcrypto
    only, never up into the shell or PostgreSQL.

Includes the tree does not hold (PostgreSQL's, libcurl's) are not part of
the graph, except that a core file naming one fails.  Each problem is
printed on a line of its own; the exit status is 1 if there is any, and
the last line, "PASS include graph: ..." or "FAIL include graph: ...",
says what was checked.

test/include_graph.py --self-test checks the checker on small trees of its
own: a clean one passes, and each kind of problem fails it.
"""

import io
import os
import re
import sys
import tempfile
from contextlib import redirect_stdout

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
CORE = os.path.join("src", "core")


def source_files(root):
    """The tree's C sources and headers under src/, as paths from root."""
    found = []
    for directory, subdirs, files in os.walk(os.path.join(root, "src")):
        subdirs.sort()
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                found.append(os.path.relpath(os.path.join(directory, name), root))
    return found


def quoted_includes(root, path):
    """(line number, name) of each quoted include of the file."""
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as source:
        return [(number, match.group(1))
                for number, line in enumerate(source, 1)
                for match in [INCLUDE.match(line)] if match]


def resolve(root, including, name, known):
    """The tree's file that `#include "name"` in including reads, or None."""
    for directory in (os.path.dirname(including), CORE, ""):
        candidate = os.path.normpath(os.path.join(directory, name))
        if candidate in known:
            return candidate
    return None


def is_core(path):
    return os.path.dirname(path) == CORE or path.startswith(CORE + os.sep)


def find_cycles(graph):
    """One circle through each strongly connected component that has one
    (Tarjan's algorithm, without recursion), each as a list of files whose
    first is repeated at its end."""
    index = {}
    low = {}
    on_stack = set()
    stack = []
    components = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(sorted(component))
    cycles = []
    for component in sorted(components):
        cycles.append(circle_in(graph, set(component), component[0]))
    return cycles


def circle_in(graph, component, first):
    """A shortest circle from first back to first inside the component."""
    previous = {first: None}
    queue = [first]
    for node in queue:
        for child in sorted(graph[node]):
            if child == first:
                path = []
                while node is not None:
                    path.append(node)
                    node = previous[node]
                return path[::-1] + [first]
            if child in component and child not in previous:
                previous[child] = node
                queue.append(child)
    return [first]


def module_of(path):
    """The module of a file: its path without .c or .h."""
    return os.path.splitext(path)[0]


def module_graph(graph):
    """Module x -> module y when a file of x includes a header of y."""
    modules = {module_of(path): set() for path in graph}
    for path, targets in graph.items():
        for target in targets:
            if target.endswith(".h") and module_of(target) != module_of(path):
                modules[module_of(path)].add(module_of(target))
    return modules


def check(root):
    files = source_files(root)
    known = set(files)
    graph = {path: set() for path in files}
    problems = []
    edges = 0
    for path in files:
        for number, name in quoted_includes(root, path):
            target = resolve(root, path, name, known)
            if is_core(path) and (target is None or not is_core(target)):
                where = target if target is not None else "outside the tree"
                problems.append('%s:%d: the pure core includes "%s" (%s), which is not in %s/'
                                % (path, number, name, where, CORE))
            if target is not None:
                graph[path].add(target)
                edges += 1
    for cycle in find_cycles(graph):
        problems.append("include circle: " + " -> ".join(cycle))
    modules = module_graph(graph)
    for cycle in find_cycles(modules):
        problems.append("module circle: " + " -> ".join(cycle)
                        + " (a module is a .c with its .h)")
    for problem in problems:
        print(problem)
    core_files = sum(1 for path in files if is_core(path))
    if problems:
        print("FAIL include graph: %d problem(s) in %d files (%d of the core), %d modules, %d includes"
              % (len(problems), len(files), core_files, len(modules), edges))
        return 1
    print("PASS include graph: no circle among files or modules, the core (%d files) includes only "
          "itself; %d files, %d modules, %d includes"
          % (core_files, len(files), len(modules), edges))
    return 0


def self_test():
    """Runs check on made-up trees; returns the number of cases it got wrong."""
    clean = {
        "src/core/strbuf.h": "",
        "src/core/scrub.h": '#include "strbuf.h"\n',
        "src/core/scrub.c": '#include "scrub.h"\n#include <stdlib.h>\n',
        "src/journal.h": '#include "postgres.h"\n#include "scrub.h"\n',
        "src/journal.c": '#include "postgres.h"\n#include "journal.h"\n#include "core/strbuf.h"\n',
    }
    cases = [
        ("a clean tree", {}, 0, None),
        ("a circle of two headers",
         {"src/a.h": '#include "b.h"\n', "src/b.h": '# include "a.h"\n'},
         1, "include circle: src/a.h -> src/b.h -> src/a.h"),
        ("a circle through the core's headers",
         {"src/core/strbuf.h": '#include "scrub.h"\n'},
         1, "include circle: src/core/scrub.h -> src/core/strbuf.h -> src/core/scrub.h"),
        ("a header that includes itself",
         {"src/rows.h": '#include "rows.h"\n'}, 1, "include circle: src/rows.h -> src/rows.h"),
        ("a circle of two modules, each file's includes free of circles",
         {"src/call_log.h": "", "src/journal.h": "",
          "src/journal.c": '#include "journal.h"\n#include "call_log.h"\n',
          "src/call_log.c": '#include "call_log.h"\n#include "journal.h"\n'},
         1, "module circle: src/call_log -> src/journal -> src/call_log"),
        ("a circle of three modules, through a header",
         {"src/a.h": '#include "b.h"\n', "src/b.h": "", "src/c.h": "",
          "src/b.c": '#include "c.h"\n', "src/c.c": '#include "a.h"\n'},
         1, "module circle: src/a -> src/b -> src/c -> src/a"),
        ("modules that include each other's headers in one direction only",
         {"src/a.h": "", "src/a.c": '#include "a.h"\n#include "b.h"\n',
          "src/b.h": '#include "c.h"\n', "src/b.c": '#include "b.h"\n#include "c.h"\n',
          "src/c.h": ""}, 0, None),
        ("the core including a shell header",
         {"src/core/scrub.c": '#include "scrub.h"\n#include "journal.h"\n'},
         1, 'src/core/scrub.c:2: the pure core includes "journal.h" (outside the tree)'),
        ("the core including a shell header from the root",
         {"src/core/scrub.c": '#include "scrub.h"\n#include "src/journal.h"\n'},
         1, 'src/core/scrub.c:2: the pure core includes "src/journal.h" (src/journal.h)'),
        ("the core including a shell header by its path",
         {"src/core/scrub.h": '#include "../journal.h"\n'},
         1, 'src/core/scrub.h:1: the pure core includes "../journal.h" (src/journal.h)'),
        ("the core including PostgreSQL",
         {"src/core/strbuf.h": '#include "postgres.h"\n'},
         1, 'src/core/strbuf.h:1: the pure core includes "postgres.h" (outside the tree)'),
    ]
    wrong = 0
    for name, changes, status, line in cases:
        with tempfile.TemporaryDirectory() as root:
            for path, text in dict(clean, **changes).items():
                os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
                with open(os.path.join(root, path), "w", encoding="utf-8") as out:
                    out.write(text)
            printed = io.StringIO()
            with redirect_stdout(printed):
                got = check(root)
        if got != status or (line is not None and not any(
                printed_line.startswith(line) for printed_line in printed.getvalue().splitlines())):
            wrong += 1
            print("FAIL include graph self-test, %s: exit %d, want %d%s; it printed:\n%s"
                  % (name, got, status, ", a line starting " + repr(line) if line else "",
                     printed.getvalue()))
    if wrong == 0:
        print("PASS include graph self-test: %d cases, each as expected" % len(cases))
    return 1 if wrong else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1
                   else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
