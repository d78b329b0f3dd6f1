#!/usr/bin/python3
"""Prints the fenced code blocks of one language from a Markdown file, in order, as one
script: md_blocks.py LANG FILE. For tests that follow a document literally
(tests/integration/install_doc_test.sh runs the ```sh blocks of docs/INSTALL.md)."""
import sys


def main():
    lang, path = sys.argv[1], sys.argv[2]
    out, inside = [], False
    for line in open(path, encoding="utf-8"):
        s = line.rstrip("\n")
        if not inside and s.strip() == "```" + lang:
            inside = True
            out.append("# --- %s, line block" % path)
            continue
        if inside and s.strip() == "```":
            inside = False
            continue
        if inside:
            out.append(s)
    if inside:
        sys.exit("%s: a ```%s block is not closed" % (path, lang))
    print("\n".join(out))


if __name__ == "__main__":
    main()
