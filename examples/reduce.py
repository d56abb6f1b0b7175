#!/usr/bin/env python3
"""A child for orchestrate written in Python: the same command line, input
rules, error lines and result file as the Rust `reduce` (docs/protocol.md).

    orchestrate --reduce-bin examples/reduce.py inputs/polymer-50k.txt
    orchestrate --check-child examples/reduce.py

Standard library only; Python 3.9 or later.
"""

import argparse
import os
import sys
import tempfile
import time

CASE_BIT = 0x20
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
TRAILING = b" \t\n\r"
LETTERS = frozenset(range(ord("A"), ord("Z") + 1)) | frozenset(range(ord("a"), ord("z") + 1))


class InvalidUnit(Exception):
    """A byte that is not a polymer unit, described as `reduce` does."""

    def __init__(self, offset, byte):
        super().__init__()
        self.offset, self.byte = offset, byte

    def __str__(self):
        b = self.byte
        if 0x20 <= b < 0x7F:
            shown = "'%s'" % chr(b)
        elif b < 0x80:
            escapes = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
            shown = "'%s'" % escapes.get(b, "\\x%02x" % b)
        else:
            shown = "0x%02x" % b
        return "byte offset %d: %s is not a polymer unit (expected A-Z or a-z)" % (self.offset, shown)


class Failure(Exception):
    """An error line for stderr, after `reduce: error: `."""


def parse(raw):
    """Validates raw input: an optional byte-order mark, letters, then only
    trailing whitespace. Returns the letters."""
    start = len(BYTE_ORDER_MARK) if raw.startswith(BYTE_ORDER_MARK) else 0
    end = len(raw)
    while end > start and raw[end - 1] in TRAILING:
        end -= 1
    units = raw[start:end]
    if not all(b in LETTERS for b in units):
        position = next(i for i, b in enumerate(units) if b not in LETTERS)
        raise InvalidUnit(start + position, units[position])
    return units


def react(units):
    """The full reaction: a stack, popping when the top and the next unit
    are the same letter in opposite cases."""
    stack = bytearray()
    for unit in units:
        if stack and stack[-1] ^ unit == CASE_BIT:
            stack.pop()
        else:
            stack.append(unit)
    return stack


def os_error(err):
    # The same words as Rust's io::Error: "No such file or directory (os error 2)".
    return "%s (os error %d)" % (err.strerror, err.errno) if err.errno else str(err)


def show(path):
    return path.encode("unicode_escape").decode("ascii")


def read_input(name):
    if name == "-":
        try:
            raw = sys.stdin.buffer.read()
        except OSError as err:
            raise Failure("<stdin>: could not read standard input: %s" % os_error(err))
        shown = "<stdin>"
    else:
        shown = show(name)
        try:
            if os.path.isdir(name):
                raise Failure("could not read %s: is a folder, not a polymer file" % shown)
            with open(name, "rb") as f:
                raw = f.read()
        except OSError as err:
            raise Failure("could not read %s: %s" % (shown, os_error(err)))
    try:
        return parse(raw)
    except InvalidUnit as err:
        raise Failure("%s: %s" % (shown, err))


def write_atomically(path, content):
    """Writes beside `path`, then renames into place: a reader sees no file
    or the whole file, and a failure leaves nothing behind."""
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        fd, staged = tempfile.mkstemp(prefix=".partial-", dir=folder)
    except OSError as err:
        raise Failure("could not write %s: %s" % (show(path), os_error(err)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(staged, 0o644)
        os.replace(staged, path)
    except OSError as err:
        try:
            os.unlink(staged)
        except OSError:
            pass
        raise Failure("could not write %s: %s" % (show(path), os_error(err)))


def mark_start():
    """The start mark orchestrate may ask for: best effort, never a failure."""
    path = os.environ.get("POLYMER_FANOUT_START_FILE")
    if path:
        try:
            write_atomically(path, b"%d\n" % time.time_ns())
        except Failure:
            pass


def letter(value):
    if len(value) == 1 and value.isascii() and value.isalpha():
        return value.lower()
    raise argparse.ArgumentTypeError("'%s' is not a single letter (expected one of A-Z or a-z)" % value)


def main():
    parser = argparse.ArgumentParser(
        prog="reduce",
        description="React a polymer with one unit type removed and write the reacted length to a result file.",
    )
    parser.add_argument("input", metavar="INPUT", help="the polymer: a file, or - for standard input")
    parser.add_argument("-l", "--letter", type=letter, help="remove every unit of this type first")
    parser.add_argument("-o", "--output", help="result file [default: out/<letter>.txt]; - writes none")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on stdout")
    args = parser.parse_args()
    try:
        mark_start()
        units = read_input(args.input)
        if args.letter:
            drop = {ord(args.letter), ord(args.letter.upper())}
            units = bytes(u for u in units if u not in drop)
        length = len(react(units))
        output = args.output or os.path.join("out", "%s.txt" % (args.letter or "full"))
        if output != "-":
            write_atomically(output, b"%d\n" % length)
        if not args.quiet:
            try:
                print(length, flush=True)
            except BrokenPipeError:
                sys.stdout = None
                return 141
        return 0
    except Failure as err:
        sys.stderr.write("reduce: error: %s\n" % err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
