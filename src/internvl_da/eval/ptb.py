"""pycocoevalcap's PTB tokenizer, run from a writable temporary folder.

pycocoevalcap 1.2's `PTBTokenizer.tokenize` writes its sentences to a temporary file created in
its own package folder (`tempfile.NamedTemporaryFile(dir=dirname(abspath(__file__)))`) and starts
Stanford CoreNLP 3.4.1 with that folder as the working directory (`java -cp
stanford-corenlp-3.4.1.jar ... <temp file name>`). In an environment the user cannot write to
(the image's root-owned /opt/venv, issue 12) that is a `PermissionError`, so DriveLM's language
metrics fail. The tokenizer itself is left exactly as released: `tokenize` points the module's
`__file__` at a fresh temporary folder that links the jar, so the temp file and java's working
directory are there, and restores it afterwards.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

# `__file__` is module state: one tokenization at a time in this process
_LOCK = threading.Lock()


def tokenize(captions: dict) -> dict:
    """`PTBTokenizer().tokenize(captions)` ({id: [{"caption": str}]} -> {id: [str]}) with its
    temporary file and java's working directory in a new temporary folder."""
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    real = ptb.__file__
    jar = Path(real).resolve().parent / ptb.STANFORD_CORENLP_3_4_1_JAR
    if not jar.is_file():
        raise FileNotFoundError(f"pycocoevalcap's tokenizer jar is missing: {jar}")
    with _LOCK, tempfile.TemporaryDirectory(prefix="internvl-da-ptb-") as folder:
        (Path(folder) / jar.name).symlink_to(jar)
        ptb.__file__ = os.path.join(folder, os.path.basename(real))
        try:
            return ptb.PTBTokenizer().tokenize(captions)
        finally:
            ptb.__file__ = real
