"""data: full — the hub datasets at recorded revisions into data/full, and the manual parts.

`internvl-da stage fetch-data` downloads every params.yaml `datasets:` entry into
data/full/<local_dir> at the revision `model.hub.resolve_revision` gives (an explicit sha in
params wins; else the branch is resolved at the first download and recorded in
revisions/data/<name>.json, git-tracked and reused), joins and unpacks the split image archives
of InternVL-Domain-Adaptation-Data (`images/<name>.tar.gz_part_aa`, `_ab`, ...), checks GMAI's
VAL file, and returns what must still be downloaded by hand (empty = complete).
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

from internvl_da.params import data_roots

REVISIONS = Path("revisions")
# GMAI-MMBench VAL as VLMEvalKit distributes it (evaluation.md §7.2).
GMAI_VAL_MD5 = "254bd581627866f1c499d3d6b4422324"
# What the hub does not carry: (folder under data/full, source, what must be there, sources
# that need it). The general SFT images: InternVL-Chat-V1-2 "reproduce" docs.
MANUAL_DATA = (
    ("playground/data", "the InternVL-Chat-V1-2 SFT images (internvl.readthedocs.io, "
     "internvl1.2/reproduce: COCO, ShareGPT4V, DVQA, ChartQA, AI2D, DocVQA, GeoQA+, "
     "SynthDoG-EN, ...)", "playground/data/<the roots of the nine general meta entries>",
     ("released", "raw")),
    ("drivelm", "github.com/OpenDriveLab/DriveLM (v1.1 QA) + nuscenes.org (camera sweeps)",
     "drivelm/v1_1_{train,val}_nus.json, nuscenes/samples/CAM_*/*.jpg", ("raw",)),
    ("rsvqa", "zenodo.org: RSVQA-LR and RSVQA-HR (Lobry et al.)",
     "rsvqa/LR/{LR_split_*_{questions,answers,images}.json,Images_LR/}, "
     "rsvqa/HR/{USGS_split_*,Data/}", ("raw",)),
    ("dior_rsvg", "github.com/ZhanYang-nwpu/RSVG-pytorch (DIOR-RSVG)",
     "dior_rsvg/{Annotations/*.xml,JPEGImages/*.jpg,train.txt,val.txt,test.txt}", ("raw",)),
)
PART = re.compile(r"(?P<archive>.+\.tar\.gz)_part_[a-z]+")


def record_path(name: str) -> Path:
    """The revision record of dataset `name` (git-tracked)."""
    return REVISIONS / "data" / f"{name}.json"


class _Joined:
    """The concatenation of several files as one readable stream (split archives)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths, self._handle = list(paths), None

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self._handle is None:
                if not self._paths:
                    break
                self._handle = open(self._paths.pop(0), "rb")  # noqa: SIM115 (closed below)
            chunk = self._handle.read(-1 if size < 0 else size - len(out))
            if not chunk:
                self._handle.close()
                self._handle = None
                continue
            out += chunk
        return bytes(out)


def extract_parts(folder: Path) -> list[str]:
    """Unpack every split archive `<x>.tar.gz_part_*` of `folder` into `folder` once (a marker
    `.<x>.extracted` records it); returns the archives unpacked now."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.tar.gz_part_*")):
        match = PART.fullmatch(path.name)
        if match:
            groups.setdefault(match["archive"], []).append(path)
    done = []
    for archive, parts in groups.items():
        marker = folder / f".{archive}.extracted"
        if marker.exists():
            continue
        with tarfile.open(fileobj=_Joined(parts), mode="r|gz") as tar:
            safe_extract(tar, folder, archive)
        marker.write_text("".join(f"{p.name}\n" for p in parts), encoding="utf-8")
        done.append(archive)
    return done


def safe_extract(tar: tarfile.TarFile, folder: Path, archive: str) -> None:
    """Unpack `tar` into `folder`, refusing absolute or escaping paths, links that point out of
    the folder and device files: tarfile's "data" filter where Python has it (3.11.4+), the
    same refusals by hand on older 3.11 (Debian bookworm's 3.11.2, the container's base)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(folder, filter="data")
        return
    root = folder.resolve()
    for member in tar:  # a stream ("r|gz"): members in order, each checked before it lands
        target = (root / member.name).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"{archive}: member {member.name!r} lands outside {folder}")
        if member.issym() or member.islnk():
            base = target.parent if member.issym() else root
            if Path(member.linkname).is_absolute() or \
                    not (base / member.linkname).resolve().is_relative_to(root):
                raise ValueError(f"{archive}: link {member.name!r} -> {member.linkname!r} "
                                 f"points outside {folder}")
        if member.isdev():
            raise ValueError(f"{archive}: member {member.name!r} is a device file")
        tar.extract(member, folder)


def fetch_data(params: dict) -> list[str]:
    """Download, unpack and check data/full; returns the manual parts still missing."""
    from huggingface_hub import snapshot_download

    from internvl_da.model.hub import resolve_revision

    if params["data"] != "full":
        raise ValueError("fetch-data is for data: full (dvc exp run -S data=full, or edit "
                         "params.yaml); the sample is generated by the sample_data stage")
    raw = data_roots(params)[0]
    revisions = {name: resolve_revision(entry, record_path(name), repo_type="dataset")
                 for name, entry in params["datasets"].items()}
    for name, entry in params["datasets"].items():
        target = raw / entry["local_dir"]
        print(f"{name}: {entry['hub_id']}@{revisions[name][:12]} -> {target}")
        snapshot_download(entry["hub_id"], repo_type="dataset", revision=revisions[name],
                          local_dir=target)
        if (target / "images").is_dir():
            for archive in extract_parts(target / "images"):
                print(f"{name}: unpacked images/{archive}")
    tsv = raw / "gmai/GMAI-MMBench_VAL.tsv"
    if tsv.is_file() and hashlib.md5(tsv.read_bytes()).hexdigest() != GMAI_VAL_MD5:
        raise ValueError(f"{tsv}: MD5 differs from the VLMEvalKit release ({GMAI_VAL_MD5})")
    missing = [f"{folder}: from {source}; expected {layout}"
               for folder, source, layout, sources in MANUAL_DATA
               if params["source"] in sources and not (raw / folder).exists()]
    for line in missing:
        print(f"manual download needed under {raw}/ - {line}")
    return missing
