"""The 3x3 glyphs of the teaching video and the two tasks built on them.

A 3x3 grid can hold only four digits: 0, 1, 4 and 7. Pixels are x1..x9, read row by row,
1.0 for lit and 0.0 for dark. A glyph is written as three rows of 0/1 separated by "/",
e.g. "010/010/010" is the canonical 1.

    0 (one way)      111/101/111
    4 (one way)      101/111/001
    1 (nine ways)    a vertical stroke of two or three pixels in any column
    7 (seven ways)   a top bar and a right-hand stem meeting at the bar's right end, bar and
                     stem each two or three pixels long, the stem at least as long as the bar:
                     the full 3x3 seven, the 2-wide 3-tall one in two places, and the 2x2 one
                     in four places. The video counts seven; these are its seven.

Dataset order (it matters: SGD updates after every sample) is digit by digit, 0, 1, 4, 7,
each digit's variants in the order GLYPHS lists them.
"""

GLYPHS = {
    0: ["111/101/111"],
    1: [
        "100/100/100", "010/010/010", "001/001/001",  # three pixels tall
        "100/100/000", "010/010/000", "001/001/000",  # two pixels, top
        "000/100/100", "000/010/010", "000/001/001",  # two pixels, bottom
    ],
    4: ["101/111/001"],
    7: [
        "111/001/001",  # bar 3, stem 3
        "110/010/010", "011/001/001",  # bar 2, stem 3
        "110/010/000", "011/001/000", "000/110/010", "000/011/001",  # bar 2, stem 2
    ],
}

# The canonical glyph of each digit: the one the original mini example trained on.
CANONICAL = {0: "111/101/111", 1: "010/010/010", 4: "101/111/001", 7: "111/001/001"}

TASKS = ("is-one", "digit-value")
DEFAULT_TASK = "is-one"


def parse_glyph(text):
    """'010/010/010' -> [0.0, 1.0, 0.0, ...] (9 pixels, row by row); ValueError if malformed."""
    rows = str(text).strip().split("/")
    if len(rows) != 3 or any(len(row) != 3 or set(row) - {"0", "1"} for row in rows):
        raise ValueError(
            f"glyph {text!r} is not three rows of three 0/1 pixels: write it like '010/010/010'"
        )
    return [float(c) for row in rows for c in row]


def glyph_text(x):
    """[0.0, 1.0, ...] (9 pixels) -> '010/010/010'."""
    bits = "".join("1" if v >= 0.5 else "0" for v in x)
    return "/".join(bits[i:i + 3] for i in range(0, 9, 3))


def draw(x, on="#", off="."):
    """The glyph as three lines of text, e.g. '.#.' / '.#.' / '.#.' for the canonical 1."""
    return "\n".join(glyph_text(x).replace("1", on).replace("0", off).split("/"))


def dataset(task=DEFAULT_TASK):
    """(X, T, labels) for a task: X rows of 9 floats, T targets, labels the digit drawn.

    is-one:      all 18 glyphs, target 1.0 for every 1 and 0.0 for every other digit.
    digit-value: the four canonical glyphs 0, 1, 4, 7, target digit / 10 (the original mini example).
    """
    if task == "is-one":
        pairs = [(digit, glyph) for digit, glyphs in GLYPHS.items() for glyph in glyphs]
        targets = [1.0 if digit == 1 else 0.0 for digit, _ in pairs]
    elif task == "digit-value":
        pairs = list(CANONICAL.items())
        targets = [digit / 10 for digit, _ in pairs]
    else:
        raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    X = [parse_glyph(glyph) for _, glyph in pairs]
    labels = [digit for digit, _ in pairs]
    return X, targets, labels


def read_out(task, p):
    """What a prediction p means for a task: is-one -> 1 or 0 at threshold 0.5; digit-value -> round(10 p)."""
    return int(p >= 0.5) if task == "is-one" else round(p * 10)


def draw_side_by_side(glyphs, indent="    "):
    """Several glyphs in text, one beside the other: three lines."""
    pictures = [draw(parse_glyph(glyph)).splitlines() for glyph in glyphs]
    return "\n".join(indent + "  ".join(rows) for rows in zip(*pictures))


if __name__ == "__main__":
    # Each digit's ways of being written, in dataset order (see the module docstring).
    for digit, glyphs in GLYPHS.items():
        print(f"{digit} ({len(glyphs)} way{'s' if len(glyphs) > 1 else ''})")
        print(draw_side_by_side(glyphs), end="\n\n")
