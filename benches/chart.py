"""Draws benches/large.csv (from benches/large.sh) as an SVG line chart:
median wall time against input size, both on log scales, one line per
case, the `cat` floor dashed, a case on standard input dotted in its
by-path case's colour. No dependencies beyond Python itself.

    python3 benches/chart.py benches/large.csv benches/large.svg
"""

import csv
import math
import sys
from collections import defaultdict

COLOURS = ["#555555", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
WIDTH, HEIGHT = 800, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 330, 30, 50


def main(source, target):
    series = defaultdict(list)
    with open(source, newline="") as f:
        for row in csv.DictReader(f):
            series[row["case"]].append((int(row["size"]), float(row["wall_ms"])))
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_lo, x_hi = decades(min(xs), max(xs))
    y_lo, y_hi = decades(min(ys), max(ys))

    def px(x):
        return LEFT + (math.log10(x) - x_lo) / (x_hi - x_lo) * (WIDTH - LEFT - RIGHT)

    def py(y):
        return HEIGHT - BOTTOM - (math.log10(y) - y_lo) / (y_hi - y_lo) * (HEIGHT - TOP - BOTTOM)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    for d in range(x_lo, x_hi + 1):
        x = px(10**d)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{size_label(10**d)}</text>')
    for d in range(y_lo, y_hi + 1):
        y = py(10**d)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{time_label(10**d)}</text>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 12}" text-anchor="middle">input size</text>')
    out.append(f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">median wall time</text>')
    # A case on standard input takes its by-path case's colour, dotted.
    colours = {}
    for i, (case, points) in enumerate(series.items()):
        mode = case.removesuffix(" on stdin")
        colour = colours.setdefault(mode, COLOURS[len(colours) % len(COLOURS)])
        if case.startswith("cat"):
            dash = ' stroke-dasharray="6 4"'
        elif case != mode:
            dash = ' stroke-dasharray="2 3"'
        else:
            dash = ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(points))
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"><title>{case}: '
                       f'{size_label(x)}, {y:.1f} ms</title></circle>')
        ly = TOP + 10 + 20 * i
        out.append(f'<line x1="{WIDTH - RIGHT + 15}" y1="{ly}" x2="{WIDTH - RIGHT + 40}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{WIDTH - RIGHT + 46}" y="{ly + 4}">{escape(case)}</text>')
    out.append("</svg>")
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")


def decades(lo, hi):
    # A size a byte over a power of ten (the input's newline) stays in its
    # decade.
    first = math.floor(math.log10(lo) + 1e-6)
    last = math.ceil(math.log10(hi) - 1e-6)
    # One size (or one time) still spans a decade, so the axis has a length.
    return first, max(last, first + 1)


def size_label(size):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"


def time_label(ms):
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
