#!/usr/bin/python3
"""Writes ncpd.yaml(5) from `ncpd --help-config`.

    ncpd --help-config | python3 man/config_man.py TEMPLATE "ncpd 0.1.0" >ncpd.yaml.5

The table on standard input (one Markdown row per key: key, type,
default, range, reload, meaning) becomes one tagged paragraph per key,
grouped by the key's first part, in place of the template's @KEYS@ line.
"""
import os
import re
import sys
import time

HEADER = "| key | type | default | range | reload | meaning |"


def roff(text):
    """Text for a roff line: backslashes escaped, `code` in bold, no
    line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]*)`", lambda m: "\\fB" + m.group(1) + "\\fR", text)
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


def parse(lines):
    """The table's rows as (key, type, default, range, reload, meaning)."""
    if not lines or lines[0].rstrip("\n") != HEADER:
        raise ValueError("line 1: expected the header %r, got %r"
                         % (HEADER, lines[0].rstrip("\n") if lines else ""))
    rows = []
    for n, line in enumerate(lines[2:], start=3):
        line = line.rstrip("\n")
        if not line:
            continue
        # The meaning is the last cell and may itself hold a '|'.
        cells = line.split("|")
        if len(cells) < 8 or cells[0] != "" or cells[-1] != "":
            raise ValueError("line %d: not a row of six cells: %r" % (n, line))
        key, typ, default, rng, reload = (c.strip() for c in cells[1:6])
        meaning = "|".join(cells[6:-1]).strip()
        m = re.fullmatch(r"`([a-z0-9_.]+)`", key)
        if not m or not default.startswith("`") or not default.endswith("`"):
            raise ValueError("line %d: key or default not in backquotes: %r" % (n, line))
        rows.append((m.group(1), typ, default[1:-1], rng, reload, meaning))
    if not rows:
        raise ValueError("no keys in the table")
    return rows


def keys_roff(rows):
    out, section = [], None
    for key, typ, default, rng, reload, meaning in rows:
        group = key.split(".")[0] if "." in key else ""
        if group != section:
            section = group
            out.append('.SS "%s"' % (group or "top level"))
        facts = ["type " + roff(typ),
                 "default " + ("\\fB" + roff(default) + "\\fR" if default else "empty")]
        if rng:
            facts.append("range " + roff(rng))
        facts.append("reload " + roff(reload))
        out += [".TP", "\\fB%s\\fR: %s" % (roff(key), "; ".join(facts)), roff(meaning)]
    return "\n".join(out)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: config_man.py TEMPLATE VERSION < table\n")
        return 2
    template_path, version = argv[1], argv[2]
    try:
        rows = parse(sys.stdin.readlines())
    except ValueError as e:
        sys.stderr.write("config_man.py: standard input (ncpd --help-config): %s\n" % e)
        return 1
    with open(template_path) as f:
        template = f.read()
    if template.count("@KEYS@\n") != 1:
        sys.stderr.write("config_man.py: %s: needs one line @KEYS@\n" % template_path)
        return 1
    when = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", time.time())))
    page = (template.replace("@KEYS@\n", keys_roff(rows) + "\n")
            .replace("@DATE@", time.strftime("%B %Y", when))
            .replace("@VERSION@", version))
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
