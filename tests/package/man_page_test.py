#!/usr/bin/env python3
"""docs/man/memvisor.1 against the binary: every subcommand `memvisor --help` lists has a
section of its own (.SS), every flag `memvisor SUBCOMMAND --help` lists appears in the page,
the page names the binary's version, and man and groff render it without a warning. So a new
subcommand or flag without its man page entry fails here instead of going stale.

    man_page_test.py --memvisor build/memvisor --man docs/man/memvisor.1
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)


def help_text(memvisor, *args):
    result = subprocess.run([memvisor, *args, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"memvisor {' '.join(args)} --help: exit {result.returncode}"
    return result.stdout


def subcommands(main_help):
    """The names under 'Subcommands:', up to the blank line that ends the list."""
    names, inside = [], False
    for line in main_help.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            names.append(line.split()[0])
    return names


def flags(sub_help):
    """Long and short options of a subcommand's help, its own --help aside."""
    found = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?=[ ,=]|$)", sub_help, re.M))
    return sorted(found - {"--help", "-h"})


def plain(roff):
    """The page's words as a reader sees them: escapes and font changes gone."""
    text = roff.replace("\\-", "-").replace("\\&", "").replace("\\c", "")
    text = re.sub(r"\\f[BIRP]", "", text)
    text = re.sub(r"\\\(dq", '"', text)
    return text


def missing(roff, wanted):
    """What of `wanted` ({subcommand: [flags]}) the page lacks: a section per subcommand, and
    every flag somewhere in its text."""
    text = plain(roff)
    headings = [plain(line) for line in roff.splitlines() if line.startswith(".SS")]
    gaps = []
    for name, options in wanted.items():
        if not any(re.search(rf"\b{re.escape(name)}\b", h) for h in headings):
            gaps.append(f"subcommand {name} has no section (.SS)")
        for flag in options:
            if re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is None:
                gaps.append(f"memvisor {name} {flag} is not in the page")
    return gaps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memvisor", required=True)
    parser.add_argument("--man", required=True)
    args = parser.parse_args()
    roff = open(args.man).read()

    names = subcommands(help_text(args.memvisor))
    check(len(names) >= 10, f"memvisor --help lists the subcommands: {names}")
    wanted = {name: flags(help_text(args.memvisor, name)) for name in names}
    print(f"note  {len(wanted)} subcommands, {sum(map(len, wanted.values()))} flags")
    gaps = missing(roff, wanted)
    check(not gaps, "every subcommand and flag is in the man page" + "".join(f"\n  {g}" for g in gaps))
    # Negative control: the same check finds a section and a flag taken out of the page.
    cut = re.sub(r'^\.SS "memvisor watch.*$', "", roff, flags=re.M).replace("prefork\\-timeout", "")
    gaps = missing(cut, wanted)
    check("subcommand watch has no section (.SS)" in gaps
          and "memvisor run --prefork-timeout is not in the page" in gaps,
          f"a page without watch's section and --prefork-timeout fails: {gaps}")

    version = subprocess.run([args.memvisor, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.split()[-1]
    th = next((line for line in roff.splitlines() if line.startswith(".TH")), "")
    check(f"memvisor {version}" in th, f".TH names the binary's version {version}: {th}")

    # Rendering: groff's warnings (-ww) and man's, as `man -l` shows the page to a reader.
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-ww", "-z", "-man", "-Tutf8", args.man],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and not r.stderr.strip(), f"groff -ww renders it silently {r.stderr.strip()}")
    else:
        check(False, "groff is installed (groff-base)")
    if shutil.which("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "--warnings", "-l", args.man], capture_output=True, text=True,
                           timeout=60, env=env)
        check(r.returncode == 0 and not r.stderr.strip(), f"man --warnings -l renders it silently {r.stderr.strip()}")
        check("memvisor - memory-aware process supervisor" in r.stdout, "man shows its NAME line")
    else:
        check(False, "man is installed (man-db)")

    if failures:
        print(f"man_page_test: {len(failures)} check(s) failed")
        sys.exit(1)
    print("man_page_test: every check passed")


if __name__ == "__main__":
    main()
