#!/usr/bin/python3
"""Replace the demo output block of README.md with the output of `make demo` (stdin).

Usage: make demo | scripts/readme_demo.py
Keeps the README's demo section equal to what `make demo` prints (build lines are dropped)."""
import sys

START, END = "<!-- demo-output-start -->", "<!-- demo-output-end -->"
out = sys.stdin.read()
k = out.find("== the bundled benchmark")
if k < 0:
    sys.exit("readme_demo: no demo output on stdin")
demo = out[k:].rstrip("\n")
readme = open("README.md").read()
i, j = readme.index(START) + len(START), readme.index(END)
open("README.md", "w").write(readme[:i] + "\n```text\n" + demo + "\n```\n" + readme[j:])
