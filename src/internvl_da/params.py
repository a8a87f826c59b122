"""params.yaml: load, check and resolve the pipeline's settings.

`load_params(path)` reads the file and rejects unknown keys, missing keys and wrong types, naming
the key's path (`train.learning_rate: expected float, got str`). The training settings of one
(size, domain) are `train` < `tiny_train` (tiny sizes) < `recipe.<size>.<domain>` < the top-level
user keys (seed, freeze_*, lora_*); `train.recipe.recipe` builds its TrainConfig from them.
`eval.<bench>` holds each benchmark's inference settings (evaluation.md §1: GMAI 6 tiles, the
others 12); `released.<size>.<domain>` the released DA checkpoints (evaluation.md §9).
`custom.domains.<name>` declares your own domains (internvl_da.custom_domains); their recipe is
`recipe.<size>.custom` with the domain's own recipe keys on top.
`family` (internvl2 | internvl3.5) picks the model of each size (families.model_key: `models`
is keyed by registry key); InternVL3.5 adds its `recipe_profile` (families.recipe_overrides)
over the recipe. `family_dir` prefixes the size in every pipeline path (`tree(params)`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path

import yaml

from internvl_da import custom_domains
from internvl_da.model.families import FAMILIES, RECIPES, model_key
from internvl_da.model.registry import SIZES
from internvl_da.prep.meta import DOMAINS

PARAMS_FILE = "params.yaml"
PIPELINE_SIZES = ("tiny", "1b", "2b", "4b")
# `models` keys: the registry key of every (family, size), InternVL2's bare sizes first
MODEL_NAMES = tuple(model_key(f, s) for f in FAMILIES for s in PIPELINE_SIZES)
DATA_CHOICES = ("sample", "full")
SOURCE_CHOICES = ("released", "raw")  # the paper's released files | the project's conversions
RELEASED_SIZES = ("1b", "2b", "4b")  # tiny: a stand-in built in-process (internvl_da.released)
# eval/benchmarks.py BENCHMARKS, by name (tests/test_params.py checks they agree): listed here so
# that reading params does not import the evaluation stack.
BENCHMARK_NAMES = ("drivelm", "mme-realworld", "gmai", "rsvqa-lr", "rsvqa-hr-test1",
                   "rsvqa-hr-test2", "dior-rsvg", "custom-vqa", "custom-caption", "custom-mcq",
                   "custom-grounding")
RECIPE_DOMAINS = (*DOMAINS, "custom")  # recipe.<size>.custom: every custom domain's defaults

# Top-level keys users override, and the TrainConfig fields they set.
USER_KEYS = {"family": str, "family_dir": str, "recipe_profile": str, "size": str, "data": str,
             "source": str, "seed": int, "freeze_vit": bool, "freeze_mlp": bool,
             "freeze_llm": bool, "lora_llm": int, "lora_vit": int}
RECIPE_KEYS = {"max_steps": int, "gradient_accumulation_steps": int, "save_steps": int,
               "save_total_limit": int}
MODEL_KEYS = {"template": str, "hub_id": str | None, "revision": str | None}
HUB_KEYS = {"hub_id": str, "revision": str | None}
DATASET_KEYS = {"hub_id": str, "revision": str | None, "local_dir": str}
EVAL_KEYS = {"batch_size": int, "limit": int | None, **dict.fromkeys(BENCHMARK_NAMES, dict)}
BENCH_KEYS = {"max_num": int, "dynamic": bool, "max_new_tokens": int}
# user keys that are not TrainConfig fields
NOT_TRAINING = ("family", "family_dir", "recipe_profile", "size", "data", "source")


class ParamsError(ValueError):
    """A params.yaml problem; the message names the file and the key's path."""


def default_params_path() -> Path:
    """./params.yaml if present, else the repository's (editable installs and tests)."""
    here = Path(PARAMS_FILE)
    return here if here.is_file() else Path(__file__).resolve().parents[2] / PARAMS_FILE


def _type_name(kind) -> str:
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple:
        return f"a list of {len(args)} numbers"
    if args:
        return " or ".join("null" if a is type(None) else a.__name__ for a in args)
    return kind.__name__


def _matches(value, kind) -> bool:
    if isinstance(kind, types.UnionType):
        return any(_matches(value, k) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is float:  # ints are floats too (YAML reads `1e-5` as a string: see _coerce)
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(kind) is tuple:
        inner = typing.get_args(kind)
        return (isinstance(value, list) and len(value) == len(inner)
                and all(_matches(v, k) for v, k in zip(value, inner, strict=True)))
    return isinstance(value, kind)


def _coerce(value, kind):
    """YAML 1.1 reads `1e-5` (no dot), as `dvc exp run -S lr=1e-5` writes it, as a string."""
    if kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check_mapping(source: str, path: str, value, schema: dict, complete: bool = True) -> None:
    where = f"{source}: {path}" if path else source
    if not isinstance(value, dict):
        raise ParamsError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - set(schema))
    if unknown:
        raise ParamsError(f"{source}: {path + '.' if path else ''}{unknown[0]}: unknown key "
                          f"(valid: {', '.join(sorted(schema))})")
    missing = sorted(set(schema) - set(value)) if complete else []
    if missing:
        raise ParamsError(f"{source}: {path + '.' if path else ''}{missing[0]}: missing key")
    for key, kind in schema.items():
        if key in value:
            value[key] = _coerce(value[key], kind)
        if key in value and not _matches(value[key], kind):
            got = "null" if value[key] is None else type(value[key]).__name__
            raise ParamsError(f"{source}: {path + '.' if path else ''}{key}: expected "
                              f"{_type_name(kind)}, got {got} ({value[key]!r})")


def train_schema() -> dict:
    """TrainConfig's fields and types, less the ones set per size/domain or by USER_KEYS."""
    from internvl_da.train.recipe import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    skip = {"size", "domain", *RECIPE_KEYS, *USER_KEYS}
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig) if f.name not in skip}


def check_params(params: dict, source: str = PARAMS_FILE) -> dict:
    """Raise ParamsError on the first problem; return `params` unchanged."""
    schema = {**USER_KEYS, "launcher": str, "models": dict, "released": dict, "datasets": dict,
              "recipe": dict, "train": dict, "tiny_train": dict, "eval": dict, "custom": dict}
    _check_mapping(source, "", params, schema)
    choices = {"family": FAMILIES, "size": PIPELINE_SIZES, "data": DATA_CHOICES,
               "source": SOURCE_CHOICES, "recipe_profile": tuple(RECIPES)}
    for key, valid in choices.items():
        if params[key] not in valid:
            raise ParamsError(f"{source}: {key}: {params[key]!r} is not one of {', '.join(valid)}")
    _check_family_dir(params, source)
    _check_mapping(source, "models", params["models"], dict.fromkeys(MODEL_NAMES, dict))
    _check_mapping(source, "recipe", params["recipe"], dict.fromkeys(PIPELINE_SIZES, dict))
    for key in MODEL_NAMES:
        model = params["models"][key]
        _check_mapping(source, f"models.{key}", model, MODEL_KEYS)
        if model["template"] != SIZES[key].template:
            raise ParamsError(f"{source}: models.{key}.template: {model['template']!r}, but "
                              f"this model was trained with {SIZES[key].template!r}")
    for size in PIPELINE_SIZES:
        _check_mapping(source, f"recipe.{size}", params["recipe"][size],
                       dict.fromkeys(RECIPE_DOMAINS, dict))
        for domain in RECIPE_DOMAINS:
            _check_mapping(source, f"recipe.{size}.{domain}", params["recipe"][size][domain],
                           RECIPE_KEYS)
    _check_released(params["released"], source)
    for name, entry in params["datasets"].items():
        _check_mapping(source, f"datasets.{name}", entry, DATASET_KEYS)
    shared = train_schema()
    _check_mapping(source, "train", params["train"], shared)
    _check_mapping(source, "tiny_train", params["tiny_train"], shared, complete=False)
    _check_eval(params["eval"], source)
    _check_custom(params["custom"], source)
    return params


def _check_family_dir(params: dict, source: str) -> None:
    """family_dir: "" (the default tree) or "<family>-"; never another family's tree, so an
    InternVL2 run cannot land in the InternVL3.5 tree or the reverse."""
    allowed = ("", f"{params['family']}-")
    if params["family_dir"] not in allowed:
        raise ParamsError(f"{source}: family_dir: {params['family_dir']!r} does not fit family "
                          f"{params['family']}; use one of {', '.join(map(repr, allowed))}")


def _check_custom(custom, source: str) -> None:
    """custom: general_holdout >= 1 and each declared domain (custom_domains)."""
    _check_mapping(source, "custom", custom, custom_domains.SECTION_KEYS)
    if custom["general_holdout"] < 1:
        raise ParamsError(f"{source}: custom.general_holdout: must be >= 1, got "
                          f"{custom['general_holdout']}")
    for name, entry in custom["domains"].items():
        where = f"custom.domains.{name}"
        try:
            custom_domains.check_name(name, f"{source}: custom.domains")
        except ValueError as exc:
            raise ParamsError(str(exc)) from None
        _check_mapping(source, where, entry, {**custom_domains.DOMAIN_KEYS, **RECIPE_KEYS},
                       complete=False)
        missing = sorted(set(custom_domains.DOMAIN_KEYS) - set(entry))
        if missing:
            raise ParamsError(f"{source}: {where}.{missing[0]}: missing key")
        try:
            custom_domains.check_domain(entry, f"{source}: {where}")
        except ValueError as exc:
            raise ParamsError(str(exc)) from None


def _check_released(released, source: str) -> None:
    _check_mapping(source, "released", released, dict.fromkeys(RELEASED_SIZES, dict))
    for size in RELEASED_SIZES:
        _check_mapping(source, f"released.{size}", released[size], dict.fromkeys(DOMAINS, dict))
        for domain in DOMAINS:
            _check_mapping(source, f"released.{size}.{domain}", released[size][domain],
                           HUB_KEYS)


def _check_eval(options, source: str) -> None:
    """eval: shared keys + every benchmark's settings, each >= 1 where a count."""
    _check_mapping(source, "eval", options, EVAL_KEYS)
    for bench in BENCHMARK_NAMES:
        _check_mapping(source, f"eval.{bench}", options[bench], BENCH_KEYS)
        for key in ("max_num", "max_new_tokens"):
            if options[bench][key] < 1:
                raise ParamsError(f"{source}: eval.{bench}.{key}: must be >= 1, got "
                                  f"{options[bench][key]}")


def load_params(path: str | Path | None = None) -> dict:
    """The checked contents of params.yaml (default: `default_params_path()`)."""
    path = Path(path) if path is not None else default_params_path()
    if not path.is_file():
        raise ParamsError(f"{path}: no such params file")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML: {exc}") from None
    return check_params(params, str(path))


def recipe_size(size: str) -> str:
    """The params section of a size: the tiny family variants share `tiny`."""
    return "tiny" if size.startswith("tiny") else size


def model_name(params: dict, size: str | None = None, family: str | None = None) -> str:
    """The registry key of params' (family, size): InternVL2 keeps the bare size; a key that is
    already a registry key (tiny-llama, internvl3.5-1b) is returned as it is."""
    size = size or params["size"]
    if size not in PIPELINE_SIZES:
        return size
    return model_key(family or params.get("family", "internvl2"), size)


def tree(params: dict, size: str | None = None, family: str | None = None) -> str:
    """The path segment of (family, size): `<family_dir><size>` (models/, runs/, results/,
    revisions/, validate/ — dvc.yaml writes `${family_dir}${size}`). A family given apart from
    params (CLI --family) gets its own tree (`internvl3.5-<size>`, nothing for internvl2); a
    registry key as size is its own segment."""
    size = size or params["size"]
    if size not in PIPELINE_SIZES:
        return size
    if family is None:
        return f"{params.get('family_dir', '')}{size}"
    return size if family == "internvl2" else f"{family}-{size}"


def family_overrides(params: dict, size: str) -> dict:
    """InternVL3.5's recipe_profile (families.recipe_overrides) for a 3.5 model key, else {}."""
    from internvl_da.model.families import recipe_overrides

    if SIZES.get(size) is None or SIZES[size].template != "internvl2_5":
        return {}
    return recipe_overrides("internvl3.5", params.get("recipe_profile", "da35"))


def train_settings(params: dict, size: str, domain: str) -> dict:
    """TrainConfig keyword arguments for (size, domain), before command-line overrides. `size`
    is a registry key (model_name); an InternVL3.5 key adds its recipe_profile's values over
    the recipe, under the user keys (seed, freeze_*, lora_*)."""
    custom = custom_domains.domains(params)
    if domain not in DOMAINS and domain not in custom:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS} or a custom domain "
                         f"of params.yaml ({', '.join(sorted(custom)) or 'none declared'})")
    section = recipe_size(size.removeprefix("internvl3.5-"))
    if section not in PIPELINE_SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {sorted(SIZES)}")
    settings = dict(params["train"])
    if section == "tiny":
        settings.update(params["tiny_train"])
    if domain in custom:  # recipe.<size>.custom, then the domain's own recipe keys
        settings.update(params["recipe"][section]["custom"])
        settings.update({k: v for k, v in custom[domain].items() if k in RECIPE_KEYS})
    else:
        settings.update(params["recipe"][section][domain])
    settings.update(family_overrides(params, size))
    settings.update({k: params[k] for k in USER_KEYS if k not in NOT_TRAINING})
    settings["adam_betas"] = tuple(settings["adam_betas"])
    return {"size": size, "domain": domain, **settings}


def override_schema() -> dict:
    """Every key `train --set KEY=VALUE` accepts, with its type: the shared training settings,
    the per-(size, domain) recipe values and the top-level user keys that are TrainConfig
    fields — the same schema params.yaml is checked against."""
    user = {k: v for k, v in USER_KEYS.items() if k not in NOT_TRAINING}
    return {**train_schema(), **RECIPE_KEYS, **user}


BOOL_SPELLINGS = {"true": True, "false": False}  # YAML 1.2's; never `no`/`on`/`1` (issue 11)


def _parse_value(key: str, text: str, kind):
    """`text` as a value of `kind`, or a ParamsError naming the key and the expected type.

    A bool is exactly true/false (any case): YAML 1.1 reads `no` as false and Python's
    bool("no") is True, so either reading of `freeze_vit=no` would be a silent guess.
    """
    def bad(expected: str) -> ParamsError:
        return ParamsError(f"--set {key}={text}: expected {expected}, got {text!r}")

    if isinstance(kind, types.UnionType):
        if text.lower() in ("null", "none", "~") and type(None) in typing.get_args(kind):
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if kind is bool:
        if text.lower() not in BOOL_SPELLINGS:
            raise bad("a bool (true or false)")
        return BOOL_SPELLINGS[text.lower()]
    if kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            raise bad("an int" if kind is int else "a float") from None
        if kind is float and not math.isfinite(value):
            raise bad("a finite float")
        return value
    if typing.get_origin(kind) is tuple:
        parts = [p.strip() for p in text.strip().strip("[]()").split(",") if p.strip()]
        inner = typing.get_args(kind)
        if len(parts) != len(inner):
            raise bad(f"{_type_name(kind)}, comma-separated")
        return tuple(_parse_value(key, p, k) for p, k in zip(parts, inner, strict=True))
    return text


def parse_overrides(items: list[str]) -> dict:
    """`--set KEY=VALUE` items -> checked TrainConfig overrides (the params.yaml schema).

    Unknown keys and values of the wrong type are ParamsErrors naming the key and the
    expected type; a key set twice is an error rather than last-one-wins.
    """
    schema = override_schema()
    overrides: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamsError(f"--set {item!r}: expected KEY=VALUE")
        if key not in schema:
            raise ParamsError(f"--set {key}: unknown key (valid: {', '.join(sorted(schema))})")
        if key in overrides:
            raise ParamsError(f"--set {key}: given twice")
        overrides[key] = _parse_value(key, text.strip(), schema[key])
    return overrides


def check_override_types(overrides: dict) -> None:
    """Programmatic TrainConfig overrides (`recipe(..., **overrides)`) against the same schema:
    `freeze_vit="no"` is a ParamsError, not a truthy string."""
    schema = override_schema()
    for key, value in overrides.items():
        kind = schema.get(key)
        if kind is None:
            continue  # size/domain and unknown names: recipe() reports those
        if not _matches(list(value) if isinstance(value, tuple) else value, kind):
            raise ParamsError(f"{key}: expected {_type_name(kind)}, got "
                              f"{type(value).__name__} ({value!r})")


def data_roots(params: dict) -> tuple[Path, Path]:
    """(raw, prepared) roots of the chosen `data`: data/<data> and data/prepared/<data>."""
    return Path("data") / params["data"], Path("data/prepared") / params["data"]


def meta_path(params: dict, domain: str) -> Path:
    """The train_meta a fine-tune of `domain` reads: data/prepared/<data>/<source>/meta/; a
    custom domain's general + domain mix: data/prepared/<data>/custom/<domain>/mix.json."""
    if custom_domains.is_custom(params, domain):
        return custom_domains.domain_dir(data_roots(params)[1], domain) / "mix.json"
    return data_roots(params)[1] / params["source"] / "meta" / f"{domain}.json"
