#!/usr/bin/python3
"""The daemon's modules include each other without cycles.

A module is a daemon/NAME.c with its NAME.h; module A depends on module B
when A's .c or .h includes B's header.  A cycle would mean two files that
cannot be read, tested or changed one without the other (issue 13).  The
graph is printed as TAP comments, one module a line.
"""

import os
import re

import mqdtest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
DAEMON = os.path.join(TOP, "daemon")
INCLUDE = re.compile(r'^#include "([a-z0-9_]+)\.h"', re.M)


def modules():
    names = {f[:-2] for f in os.listdir(DAEMON) if f.endswith((".c", ".h"))}
    graph = {}
    for name in sorted(names):
        deps = set()
        for suffix in (".c", ".h"):
            path = os.path.join(DAEMON, name + suffix)
            if os.path.exists(path):
                with open(path) as f:
                    deps.update(INCLUDE.findall(f.read()))
        graph[name] = sorted(d for d in deps if d in names and d != name)
    return graph


def find_cycle(graph):
    """A cycle as a list of modules, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in graph[node]:
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class Includes(mqdtest.MqdTestCase):
    def test_no_cycles(self):
        graph = modules()
        for name, deps in graph.items():
            print("# %-10s -> %s" % (name, " ".join(deps)), flush=True)
        self.assertGreater(len(graph), 20)
        self.assertIsNone(find_cycle(graph))

    def test_finds_a_cycle(self):
        # The check itself can fail.
        self.assertEqual(find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}),
                         ["a", "b", "c", "a"])


if __name__ == "__main__":
    mqdtest.main()
