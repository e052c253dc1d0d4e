"""Recipes: one typed config per method, from YAML, flags or Python, and the code that runs it.

    from minireason.recipes import load_recipe, run
    stages = load_recipe("smollm2-135m/grpo-countdown/cpu", ["--max_steps", "2"])  # a shipped name, or a path
    run(stages)
"""

from __future__ import annotations

from pathlib import Path

import yaml

from minireason.recipes.catalog import find_recipe

METHODS = ("grpo", "sft", "sft-then-grpo", "journey-vs-shortcut")


def _classes():
    """The config class of each single-stage method. Imported when needed: TRL and torch take seconds to load,
    and listing or finding recipes needs neither."""
    from minireason.recipes.grpo import GRPORecipe
    from minireason.recipes.sft import SFTRecipe

    return {"grpo": GRPORecipe, "sft": SFTRecipe}


def _parser(cls, values: dict, prog: str | None = None):
    """TRL's parser for ``cls`` with the recipe's YAML values as its defaults."""
    from trl import TrlParser

    parser = TrlParser((cls,), allow_abbrev=False, prog=prog)  # a typo must fail, not match a longer option
    unused = parser.set_defaults_with_config(**values)
    if unused:
        raise ValueError(f"unknown option(s) for {cls.__name__}: {unused}")
    return parser


def _parse(cls, values: dict, overrides: list[str]) -> tuple[object, set[str]]:
    """A config of ``cls`` from YAML values then flags; returns it and the flags it used."""
    parser = _parser(cls, values)
    config, remaining = parser.parse_args_into_dataclasses(args=list(overrides), return_remaining_strings=True)
    used = {flag for flag in overrides if flag.startswith("--") and flag not in remaining}
    return config, used


def _root(values: dict, overrides: list[str], default: str) -> Path:
    """The folder holding every stage; ``--output_dir`` names it (and is taken out of the flags)."""
    root = Path(values.pop("output_dir", default))
    if "--output_dir" in overrides:
        at = overrides.index("--output_dir")
        root = Path(overrides[at + 1])
        del overrides[at : at + 2]
    return root


def load_recipe(source: str | Path | dict, overrides: list[str] = ()) -> list:
    """The stage configs of a recipe: one for grpo or sft, two (sft, then grpo) for sft-then-grpo,
    two SFT runs on the same problems (shortcut traces, journey traces) for journey-vs-shortcut.

    ``source`` is a shipped recipe's name, a YAML path or a dict; ``overrides`` are flags such as
    ``--max_steps 2`` (applied to every stage that has that option), or ``--grpo.max_steps 10`` (one stage's).
    """
    values = _read(source)
    method = _method(source, values)
    overrides = list(overrides)
    GRPORecipe, SFTRecipe = _classes()["grpo"], _classes()["sft"]  # noqa: N806 (classes)
    if method in ("grpo", "sft"):
        config, used = _parse(_classes()[method], values, overrides)
        stages = [config]
    elif method == "journey-vs-shortcut":
        root = _root(values, overrides, "outputs/journey-vs-shortcut")
        stages, used = [], set()
        for style in ("shortcut", "journey"):
            config, style_used = _parse(SFTRecipe, {**values, "method": "sft", "output_dir": str(root / style)},
                                        overrides)
            config.data_style = style  # after the flags: this is what the two runs compare
            stages.append(config)
            used |= style_used
    else:
        shared = {k: v for k, v in values.items() if k not in ("sft", "grpo")}
        root = _root(shared, overrides, "outputs/sft-then-grpo")
        sft_values = {**shared, **values.get("sft", {}), "method": "sft", "output_dir": str(root / "sft")}
        grpo_values = {**shared, **values.get("grpo", {}), "method": "grpo", "output_dir": str(root / "grpo")}
        own = stage_flags(overrides, ("sft", "grpo"))
        sft_config, sft_used = _parse(SFTRecipe, sft_values, own["sft"])
        grpo_config, grpo_used = _parse(GRPORecipe, grpo_values, own["grpo"])
        # GRPO starts where SFT ended: LoRA SFT leaves an adapter on the base model, full
        # fine-tuning (--lora false, e.g. under ZeRO) leaves a whole model. Set after the flags,
        # which would otherwise replace it.
        sft_final = str(root / "sft" / "final")
        if sft_config.lora:
            grpo_config.adapter = sft_final
        else:
            grpo_config.model, grpo_config.adapter = sft_final, None
        stages, used = [sft_config, grpo_config], {_unprefixed(flag) for flag in sft_used | grpo_used}
        overrides = [_unprefixed(flag) for flag in overrides]
    unknown = [flag for flag in overrides if flag.startswith("--") and flag not in used]
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; every field of the recipe config (TRL's GRPOConfig or SFTConfig, "
                         "plus minireason's) is an option: `minireason train RECIPE --help` lists them")
    return stages


def stage_flags(overrides: list[str], stages: tuple[str, ...]) -> dict[str, list[str]]:
    """Each stage's flags: the shared ones, and its own with their ``--STAGE.`` prefix taken off.

    >>> stage_flags(["--seed", "1", "--grpo.max_steps", "10"], ("sft", "grpo"))
    {'sft': ['--seed', '1'], 'grpo': ['--seed', '1', '--max_steps', '10']}
    """
    own: dict[str, list[str]] = {stage: [] for stage in stages}
    owner = None
    for flag in overrides:
        if flag.startswith("--"):
            owner = next((stage for stage in stages if flag.startswith(f"--{stage}.")), None)
            flag = f"--{flag[len(owner) + 3:]}" if owner else flag
        for stage in stages:
            if owner in (None, stage):
                own[stage].append(flag)
    return own


def _unprefixed(flag: str) -> str:
    """A flag without its stage prefix: ``--grpo.max_steps`` → ``--max_steps``."""
    return f"--{flag[2:].split('.', 1)[1]}" if flag.startswith("--") and "." in flag.split("=")[0] else flag


def _method(source: str | Path | dict, values: dict) -> str:
    """The recipe's training method; a data recipe (``method: distill``) is named with the command that runs it."""
    method = values.get("method", "grpo")
    if method == "distill":
        name = "this recipe" if isinstance(source, dict) else source
        raise ValueError(f"{name} makes a data set (method: distill), it trains nothing: run it with "
                         f"`minireason data distill --config {name}`")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _read(source: str | Path | dict) -> dict:
    values = dict(source) if isinstance(source, dict) else yaml.safe_load(find_recipe(source).read_text())
    if not isinstance(values, dict):
        raise ValueError(f"{source}: a recipe must be a YAML mapping")
    return values


def recipe_help(source: str | Path) -> str:
    """``--help`` for a recipe: every option of each stage's config, its default being what the recipe sets."""
    values = _read(source)
    method = _method(source, values)
    shared = {k: v for k, v in values.items() if k not in ("sft", "grpo")}
    GRPORecipe, SFTRecipe = _classes()["grpo"], _classes()["sft"]  # noqa: N806 (classes)
    stages = {"grpo": [("", GRPORecipe, values)], "sft": [("", SFTRecipe, values)],
              "journey-vs-shortcut": [("", SFTRecipe, {**values, "method": "sft"})],
              "sft-then-grpo": [(" (stage 1 of 2: sft)", SFTRecipe, {**shared, **values.get("sft", {}), "method": "sft"}),
                                (" (stage 2 of 2: grpo)", GRPORecipe,
                                 {**shared, **values.get("grpo", {}), "method": "grpo"})]}[method]
    sections = [f"recipe {source} (method: {method}); the recipe sets:\n"
                + "\n".join(f"  {key}: {value}" for key, value in values.items())
                + "\n\nEach option below can follow the recipe as a flag (--max_steps 20); the defaults shown are "
                  "the recipe's values. A flag applies to every stage that has the option; `--grpo.max_steps 10` "
                  "(or `--sft.…`) to one stage."]
    for title, cls, stage_values in stages:
        stage_values = {k: v for k, v in stage_values.items() if k not in ("sft", "grpo")}
        parser = _parser(cls, stage_values, prog=f"minireason train {source}{title}")
        sections.append(parser.format_help())
    return "\n\n".join(sections)


def run(stages: list) -> list[dict]:
    """Run each stage in order; returns each stage's summary. Every stage's data set and folder are checked first,
    so a pipeline stops before its first stage trains, not after."""
    from minireason.recipes import grpo, sft
    from minireason.recipes.runs import refuse_old_run

    for stage in stages:
        refuse_old_run(stage.output_dir)
        if getattr(stage, "dataset_path", None):
            sft.require_data_set(stage.dataset_path)
    from minireason.hardware import release_memory

    trainers = {"grpo": grpo.train, "sft": sft.train}
    summaries = []
    for stage in stages:
        summaries.append(trainers[stage.method](stage))
        release_memory()  # the next stage starts from what this one left, not on top of its peak
    return summaries
