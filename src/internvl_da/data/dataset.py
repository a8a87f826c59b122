"""The supervised dataset: one InternVL meta entry -> token ids, labels and pixel tiles.

Reference: `LazySupervisedDataset` of `internvl_chat/internvl/train/internvl_chat_finetune.py`
(spec training.md §13). Differences, on purpose: any error is raised with the dataset, file,
line and reason — the reference catches it and trains on a random other sample instead;
JPEG augmentation draws from a generator derived from (seed, dataset, epoch, index), never
from the global `random` state of a worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from internvl_da.data.errors import SampleError
from internvl_da.data.formats import (
    JsonlIndex,
    MetaEntry,
    Record,
    parse_record,
    resolve_image_path,
    select_lines,
)
from internvl_da.data.templates import encode_conversation
from internvl_da.data.tiling import image_to_pixel_values, load_image, tiles_per_image


@dataclass(frozen=True)
class SampleSettings:
    """How records become tensors (recipe defaults; tests use small tiles)."""

    template: str
    image_size: int = 448
    tokens_per_tile: int = 256
    max_num: int = 12
    min_num: int = 1
    use_thumbnail: bool = True
    max_length: int = 8192
    seed: int = 0
    subset_seed: int | None = None  # repeat_time < 1: seeded random subset instead of the head


class DatasetError(SampleError):
    """A sample that cannot be built, named by dataset, file and line."""


class SupervisedDataset(torch.utils.data.Dataset):
    """Samples of one meta entry, in `select_lines` order (optionally shuffled once)."""

    def __init__(self, entry: MetaEntry, tokenizer, settings: SampleSettings,
                 dataset_index: int = 0, shuffle: bool = False) -> None:
        self.entry = entry
        self.tokenizer = tokenizer
        self.settings = settings
        self.dataset_index = dataset_index
        self.epoch = 0
        try:
            self.index = JsonlIndex(entry.annotation)
        except SampleError as exc:
            raise DatasetError(exc.source, None, f"[dataset {entry.name}] {exc.reason}") from None
        subset_rng = None if settings.subset_seed is None else \
            random.Random(f"{settings.subset_seed}:{entry.name}")
        lines = np.asarray(select_lines(len(self.index), entry.repeat_time, subset_rng),
                           dtype=np.int64)
        if shuffle:  # reference: one shuffle at construction, rng seeded by the dataset index
            np.random.default_rng(seed=dataset_index).shuffle(lines)
        self.lines = lines
        self.max_num = entry.max_dynamic_patch or settings.max_num

    def __len__(self) -> int:
        return len(self.lines)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _augment_rng(self, i: int) -> random.Random | None:
        if not self.entry.data_augment:
            return None
        return random.Random(f"{self.settings.seed}:{self.dataset_index}:{self.epoch}:{i}")

    def _pixels(self, record: Record, line: int, i: int) -> tuple[torch.Tensor, list[int]]:
        """(pixel_values (T, 3, S, S) with images in order, tiles of each image)."""
        s = self.settings
        if not record.images:  # reference: one white dummy tile keeps the ViT in the graph
            white = Image.new("RGB", (s.image_size, s.image_size), (255, 255, 255))
            return image_to_pixel_values(white, 1, s.image_size, s.use_thumbnail, 1), []
        budget = tiles_per_image(len(record.images), self.max_num) if record.kind == "multi" \
            else self.max_num
        rng = self._augment_rng(i)
        tiles = []
        for rel in record.images:
            path = resolve_image_path(self.entry.root, rel, self.index.path, line)
            try:
                image = load_image(path)
            except SampleError as exc:  # locate it at the annotation line, keep the path
                raise SampleError(self.index.path, line, f"{exc.reason}: {path}") from None
            tiles.append(image_to_pixel_values(image, budget, s.image_size, s.use_thumbnail,
                                               s.min_num, augment=rng))
        return torch.cat(tiles), [t.shape[0] for t in tiles]

    def build(self, i: int) -> dict:
        s = self.settings
        k = int(self.lines[i])
        line = self.index.line_number(k)
        record = parse_record(self.index[k], self.index.path, line, s.template)  # its rules
        pixel_values, tiles = self._pixels(record, line, i)
        counts = [s.tokens_per_tile * n for n in tiles]
        input_ids, labels = encode_conversation(self.tokenizer, s.template, record.conversations,
                                                counts, s.max_length, source=self.index.path,
                                                line=line)
        flag = 1 if record.images else 0
        return {
            "id": record.id,
            "input_ids": torch.tensor(input_ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "position_ids": torch.arange(len(input_ids), dtype=torch.long),
            "pixel_values": pixel_values,
            "image_flags": torch.full((pixel_values.shape[0],), flag, dtype=torch.long),
            "num_tiles": int(pixel_values.shape[0]),
        }

    def __getitem__(self, i: int) -> dict:
        try:
            return self.build(i)
        except SampleError as exc:
            raise DatasetError(exc.source, exc.line,
                               f"[dataset {self.entry.name}] {exc.reason}") from None


def build_datasets(meta: dict[str, MetaEntry], tokenizer, settings: SampleSettings,
                   shuffle: bool = False) -> list[SupervisedDataset]:
    """One dataset per meta entry, in meta order (the order fixes each shuffle seed)."""
    return [SupervisedDataset(entry, tokenizer, settings, k, shuffle)
            for k, entry in enumerate(meta.values())]
