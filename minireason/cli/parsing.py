"""What every subcommand parses with: the task flags, ``key=value`` parameters, and one parser over typed
dataclasses whose bad input exits with a one-line message."""

from __future__ import annotations

import argparse
import dataclasses


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every default."""


def _param_field():
    return dataclasses.field(default_factory=list, metadata={
        "action": "append", "metavar": "KEY=VALUE",
        "help": "A task parameter, repeatable: --param num_numbers=[3,4] --param max_target=100."})


@dataclasses.dataclass
class TaskArgs:
    task: str = dataclasses.field(metadata={"help": "countdown, arithmetic or math (see `minireason tasks`)."})
    param: list[str] = _param_field()

    def __post_init__(self):
        self.param = [pair for group in self.param for pair in ([group] if isinstance(group, str) else group)]

    def make_task(self):
        from minireason.tasks import get_task

        return get_task(self.task, **parse_params(self.param))


def parse_params(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML, so ``3``, ``[3, 4]`` and ``add`` work.

    >>> parse_params(["op=add", "digits=[2, 3]"])
    {'op': 'add', 'digits': [2, 3]}
    """
    import yaml

    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got {pair!r}")
        params[key.strip()] = yaml.safe_load(value)
    return params


def parse(prog: str, classes: tuple, argv: list[str], description: str | None = None, epilog: str | None = None,
          defaults: dict | None = None, partial: bool = False, leading: str | None = None):
    """The dataclasses ``classes`` from flags (``defaults`` first: YAML values). Bad input exits with the
    parser's message. ``partial`` returns the flags left over instead of refusing them. ``leading`` names the
    field that bare words before the first flag fill (``compare A B``, ``estimate NAME``)."""
    if leading and argv and not argv[0].startswith("-"):
        argv = [f"--{leading}", *argv]
    from transformers import HfArgumentParser

    parser = HfArgumentParser(classes, prog=f"minireason {prog}", description=description or classes[0].__doc__,
                              epilog=epilog, formatter_class=HelpFormatter, allow_abbrev=False)
    if defaults:
        parser.set_defaults(**defaults)
        for action in parser._actions:  # a value the config gives satisfies a required flag (argparse still asks)
            if action.dest in defaults:
                action.required = False
    try:
        *configs, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    if rest and not partial:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return (*configs, rest) if partial else (configs[0] if len(configs) == 1 else configs)


def fail(error: Exception):
    raise SystemExit(f"error: {error}") from None
