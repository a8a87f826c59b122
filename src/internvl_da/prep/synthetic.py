"""Synthetic scenes for the sample data: large flat-coloured shapes whose facts are known.

Everything a question can ask (presence, count, comparison, position, boxes) is computed from
the scene description, so answers are exact and a tiny model that sees 64 px tiles can learn
them. Pure functions; randomness only through the `random.Random` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

PALETTE = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
}
SHAPES = ("circle", "square", "triangle")
BACKGROUNDS = ((128, 128, 128), (170, 150, 120), (90, 100, 90))


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: str
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels (x2, y2 exclusive)

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def area(self) -> int:
        x1, y1, x2, y2 = self.box
        full = (x2 - x1) * (y2 - y1)
        return {"square": full, "circle": round(full * 0.785), "triangle": full // 2}[self.kind]


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    background: tuple[int, int, int]
    shapes: tuple[Shape, ...]

    def count(self, kind: str | None = None, colour: str | None = None) -> int:
        return sum((kind is None or s.kind == kind) and (colour is None or s.colour == colour)
                   for s in self.shapes)

    def has(self, kind: str | None = None, colour: str | None = None) -> bool:
        return self.count(kind, colour) > 0


def _overlaps(box, others, margin: int) -> bool:
    x1, y1, x2, y2 = box
    return any(x1 < b[2] + margin and b[0] < x2 + margin and y1 < b[3] + margin and
               b[1] < y2 + margin for b in others)


def random_scene(rng: random.Random, width: int, height: int, n_shapes: int,
                 size_range: tuple[float, float] = (0.18, 0.3),
                 kinds: tuple[str, ...] = SHAPES,
                 colours: tuple[str, ...] = tuple(PALETTE)) -> Scene:
    """Up to `n_shapes` non-overlapping shapes (placement gives up after a few tries)."""
    shapes: list[Shape] = []
    short = min(width, height)
    for _ in range(n_shapes):
        for _attempt in range(30):
            side = int(short * rng.uniform(*size_range))
            x1, y1 = rng.randrange(0, width - side), rng.randrange(0, height - side)
            box = (x1, y1, x1 + side, y1 + side)
            if not _overlaps(box, [s.box for s in shapes], margin=side // 6):
                shapes.append(Shape(rng.choice(kinds), rng.choice(colours), box))
                break
    return Scene(width, height, rng.choice(BACKGROUNDS), tuple(shapes))


def render(scene: Scene) -> Image.Image:
    """Draw the scene as an RGB image."""
    image = Image.new("RGB", (scene.width, scene.height), scene.background)
    draw = ImageDraw.Draw(image)
    for shape in scene.shapes:
        x1, y1, x2, y2 = shape.box
        fill = PALETTE[shape.colour]
        if shape.kind == "circle":
            draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=fill)
        elif shape.kind == "square":
            draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=fill)
        else:
            draw.polygon([((x1 + x2) / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)], fill=fill)
    return image


def horizontal_position(shape: Shape, width: int) -> str:
    """'left', 'center' or 'right' third of the image."""
    x = shape.centre[0] / width
    return "left" if x < 1 / 3 else "right" if x >= 2 / 3 else "center"


def presence_question(rng: random.Random, scene: Scene) -> tuple[str, str]:
    """A yes/no presence question, balanced: the asked (colour, kind) exists half the time."""
    present = [(s.colour, s.kind) for s in scene.shapes]
    absent = [(c, k) for c in PALETTE for k in SHAPES if (c, k) not in present]
    if present and (not absent or rng.random() < 0.5):
        colour, kind = rng.choice(present)
    else:
        colour, kind = rng.choice(absent)
    answer = "yes" if scene.has(kind, colour) else "no"
    return f"Is there a {colour} {kind}?", answer


def count_question(rng: random.Random, scene: Scene) -> tuple[str, str]:
    kind = rng.choice(SHAPES)
    return f"How many {kind}s are there?", str(scene.count(kind=kind))


def comparison_question(rng: random.Random, scene: Scene) -> tuple[str, str]:
    a, b = rng.sample(list(PALETTE), 2)
    more = scene.count(colour=a) > scene.count(colour=b)
    return f"Are there more {a} shapes than {b} shapes?", "yes" if more else "no"


def describe(shape: Shape, width: int) -> str:
    """'the red circle on the left' (used for grounding and object descriptions)."""
    where = horizontal_position(shape, width)
    place = "in the center" if where == "center" else f"on the {where}"
    return f"the {shape.colour} {shape.kind} {place}"
