"""Synthetic scenes: geometry, rendering and question answers agree with the scene facts."""

from __future__ import annotations

import random

import numpy as np
import pytest

from internvl_da.prep import synthetic


def scenes(seed: int, n: int, size: tuple[int, int] = (256, 256)):
    rng = random.Random(seed)
    return [(rng, synthetic.random_scene(rng, *size, rng.randint(0, 4))) for _ in range(n)]


def test_same_rng_same_scene_other_rng_differs():
    def make(seed):
        return synthetic.random_scene(random.Random(seed), 320, 240, 3)

    assert make(1) == make(1)
    assert make(1) != make(2)


def test_shapes_inside_image_and_apart():
    for _, scene in scenes(0, 60, (400, 300)):
        boxes = [s.box for s in scene.shapes]
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            assert 0 <= x1 < x2 <= 400 and 0 <= y1 < y2 <= 300
            assert x2 - x1 >= 0.18 * 300 - 1  # LARGE shapes: a 64 px tile must show them
            for bx1, by1, bx2, by2 in boxes[i + 1:]:
                assert x2 <= bx1 or bx2 <= x1 or y2 <= by1 or by2 <= y1


def test_render_pixels_match_scene():
    for _, scene in scenes(1, 30):
        pixels = np.asarray(synthetic.render(scene))
        assert pixels.shape == (256, 256, 3)
        assert tuple(pixels[0, 0]) in {*synthetic.BACKGROUNDS, *synthetic.PALETTE.values()}
        for shape in scene.shapes:
            x, y = (int(v) for v in shape.centre)
            assert tuple(pixels[y, x]) == synthetic.PALETTE[shape.colour]
            if shape.kind != "square":  # a circle or triangle leaves its box corner empty
                assert tuple(pixels[shape.box[1], shape.box[0]]) == scene.background
        for colour, rgb in synthetic.PALETTE.items():
            drawn = bool((pixels == rgb).all(axis=-1).any())
            assert drawn == scene.has(colour=colour)


@pytest.mark.parametrize("kind", synthetic.SHAPES)
def test_area_close_to_drawn_pixels(kind):
    shape = synthetic.Shape(kind, "red", (10, 20, 110, 120))
    scene = synthetic.Scene(128, 128, synthetic.BACKGROUNDS[0], (shape,))
    drawn = int((np.asarray(synthetic.render(scene)) == synthetic.PALETTE["red"]).all(-1).sum())
    assert abs(drawn - shape.area) / shape.area < 0.03


def test_presence_count_comparison_answers_match_scene():
    answers = []
    for rng, scene in scenes(4, 200):
        question, answer = synthetic.presence_question(rng, scene)
        colour, kind = question.rstrip("?").split()[-2:]
        assert answer == ("yes" if scene.has(kind, colour) else "no")
        if scene.shapes:  # an empty scene can only answer "no"
            answers.append(answer)
        q, a = synthetic.count_question(rng, scene)
        assert a == str(scene.count(kind=q.split()[2].removesuffix("s")))
        q, a = synthetic.comparison_question(rng, scene)
        more, fewer = q.split()[3], q.split()[6]
        assert a == ("yes" if scene.count(colour=more) > scene.count(colour=fewer) else "no")
    assert 0.42 < answers.count("yes") / len(answers) < 0.58  # balanced by construction


def test_position_and_description():
    def at(x1):
        return synthetic.Shape("circle", "blue", (x1, 0, x1 + 60, 60))

    assert [synthetic.horizontal_position(at(x), 300) for x in (0, 90, 200)] == [
        "left", "center", "right"]
    assert synthetic.describe(at(0), 300) == "the blue circle on the left"
    assert synthetic.describe(at(90), 300) == "the blue circle in the center"
