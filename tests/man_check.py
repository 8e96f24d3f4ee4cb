#!/usr/bin/python3
"""Checks that a manual page says what its program says.

    man_check.py help HELP PAGE     HELP: the program's --help output
    man_check.py config TABLE PAGE  TABLE: ncpd --help-config's output

help: the page's SYNOPSIS and DESCRIPTION (and OPTIONS), as man shows
them, hold the words of --help in the same order, no more and no fewer
(help2man drops only "Usage:", "or:" and an
"Options:" line, which becomes the OPTIONS heading), and the tagged paragraphs
document exactly the options --help lists.

config: the page's KEYS section lists exactly the table's keys, in order,
and each key's paragraph carries its type, default, range, reload and
meaning.

Prints each difference and exits 1 when there is one; 0 and "ok" when
the page agrees.
"""
import difflib
import os
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


def render(page):
    """The page as man shows it: no hyphenation, no justification, every
    paragraph on one line."""
    env = dict(os.environ, LC_ALL="C", MANWIDTH="2000")
    env.pop("MAN_KEEP_FORMATTING", None)
    r = subprocess.run(["man", "--nh", "--nj", "-l", page], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode != 0 or r.stderr.strip():
        sys.exit("man_check.py: man -l %s: %s" % (page, r.stderr.strip()))
    return r.stdout.splitlines()


def sections(lines):
    """Top-level sections of a rendered page: name -> its lines."""
    out, name = {}, None
    for line in lines[1:-1]:        # the header and footer lines
        if re.fullmatch(r"[A-Z][A-Z ]*", line):
            name = line
            out[name] = []
        elif name:
            out[name].append(line)
    return out


def tagged_options(page):
    """The options of the page's tagged paragraphs (.TP) whose tag is an
    option (as help_options takes them: a command's tag such as "record
    start NAME [--probe PROBE]" is not), from the roff."""
    lines = open(page).read().splitlines()
    opts = set()
    for i, line in enumerate(lines[:-1]):
        if line == ".TP":
            tag = re.sub(r"\\f[BIRP]", "", lines[i + 1]).replace("\\-", "-")
            if tag.startswith("-"):
                opts.update(OPT.findall(tag))
    return opts


def help_options(help_text):
    """The options --help lists: those in the tag of an indented line
    ("  --rate HZ   screen refreshes ...")."""
    opts = set()
    for line in help_text.splitlines():
        m = re.match(r" {1,10}(-\S.*?)(?: {2,}|$)", line)
        if m:
            opts.update(OPT.findall(m.group(1)))
    return opts


def check_help(help_path, page):
    faults = []
    help_text = open(help_path).read()
    secs = sections(render(page))
    body = []
    for name in ("SYNOPSIS", "DESCRIPTION", "OPTIONS"):
        body += secs.get(name, [])
    for name in ("SYNOPSIS", "DESCRIPTION"):
        if name not in secs:
            faults.append("the page has no %s (--help must begin 'Usage: PROGRAM ...')" % name)
    # help2man makes a line "Options:" the OPTIONS section's heading.
    if "OPTIONS" in secs:
        help_text = "\n".join(l for l in help_text.splitlines() if l != "Options:")
    want = [w for w in help_text.split() if w not in ("Usage:", "or:")]
    have = " ".join(body).split()
    sm = difflib.SequenceMatcher(None, want, have, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        ctx = " ".join(want[max(0, i1 - 4):i1])
        if i2 > i1:
            faults.append("--help says, after '%s': '%s'; the page does not"
                          % (ctx, " ".join(want[i1:i2])))
        if j2 > j1:
            faults.append("the page says, after '%s': '%s'; --help does not"
                          % (ctx, " ".join(have[j1:j2])))
    hopts, popts = help_options(help_text), tagged_options(page)
    for o in sorted(hopts - popts):
        faults.append("option %s is in --help but not a tagged paragraph of the page" % o)
    for o in sorted(popts - hopts):
        faults.append("option %s is on the page but not in --help" % o)
    if not hopts:
        faults.append("no options found in %s" % help_path)
    return faults


def table_rows(path):
    rows = []
    for n, line in enumerate(open(path).read().splitlines()[2:], start=3):
        cells = line.split("|")
        if len(cells) < 8:
            sys.exit("man_check.py: %s:%d: not a table row" % (path, n))
        key, typ, default, rng, reload = (c.strip().strip("`") for c in cells[1:6])
        meaning = "|".join(cells[6:-1]).strip().replace("`", "")
        rows.append((key, typ, default, rng, reload, meaning))
    return rows


def norm(s):
    return " ".join(s.split())


def check_config(table, page):
    faults = []
    rows = table_rows(table)
    keys = sections(render(page)).get("KEYS")
    if keys is None:
        return ["the page has no KEYS section"]
    # Each key's paragraph: "KEY: type ...; default ..." then its meaning,
    # up to the next key or subsection.
    paras, cur = [], None
    for line in keys:
        m = re.match(r"       (\S+): type ", line)
        if m:
            cur = [m.group(1), line]
            paras.append(cur)
        elif re.match(r"   \S", line):
            cur = None
        elif cur is not None:
            cur.append(line)
    page_keys = [p[0] for p in paras]
    want_keys = [r[0] for r in rows]
    if page_keys != want_keys:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, want_keys, page_keys, autojunk=False).get_opcodes():
            if tag != "equal":
                faults.append("keys: the table has %s where the page has %s"
                              % (want_keys[i1:i2], page_keys[j1:j2]))
    text = {p[0]: norm(" ".join(p[1:])) for p in paras}
    for key, typ, default, rng, reload, meaning in rows:
        t = text.get(key)
        if t is None:
            continue
        want = ["type " + typ, "default " + (default or "empty"), "reload " + reload,
                norm(meaning)]
        if rng:
            want.append("range " + norm(rng))
        for w in want:
            if w not in t:
                faults.append("%s: the table says '%s'; the page: '%s'" % (key, w, t))
    return faults


def main(argv):
    if len(argv) != 4 or argv[1] not in ("help", "config"):
        sys.stderr.write("usage: man_check.py help|config SOURCE PAGE\n")
        return 2
    mode, source, page = argv[1:]
    faults = (check_help if mode == "help" else check_config)(source, page)
    for f in faults:
        print("%s: %s" % (page, f))
    if faults:
        return 1
    print("%s: ok" % page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
