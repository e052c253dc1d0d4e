"""What the notebooks share: pick a recipe for the hardware, size it, measure memory, plot, tabulate.

The notebooks under ``notebooks/`` call these and the rest of the package; none of them
carries logic of its own. ``SIZE`` in each notebook's parameters cell picks how big a run is:

- ``tiny``: a 2-layer random model and 2 steps, seconds on a CPU (what CI runs);
- ``cpu``: the embedded SmolLM2-135M and the CPU recipe, minutes on a laptop;
- ``gpu``: Qwen2.5-3B and the recipe for this GPU's memory (T4 16 GB, A100 40 GB, H100 80 GB);
- ``auto``: ``gpu`` when CUDA is there, else ``cpu``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from minireason.recipes.catalog import describe, recipe_names, recipe_root
from minireason.reports.markdown import claim_section_name, markdown_table, read_section

SIZES = ("auto", "tiny", "cpu", "gpu")


def tiny_flags(grpo: bool) -> list[str]:
    """The flags that shrink any recipe to seconds (what SIZE=tiny and the tests run): the random 2-layer model,
    2 optimiser steps, a handful of problems, and no W&B run (its start-up alone costs more than the training).
    ``grpo``: the recipe has a GRPO stage, which then samples 4 completions of 8 tokens, one prompt a step."""
    flags = ["--model", "tiny", "--max_steps", "2", "--n_train", "8", "--n_eval", "4", "--eval_max_new_tokens", "8",
             "--report_to", "none"]
    if grpo:
        flags += ["--max_completion_length", "8", "--num_generations", "4", "--per_device_train_batch_size", "4",
                  "--use_vllm", "false"]
    return flags


def hardware() -> dict:
    """The device a run would use: its name, memory in GiB (to 0.01), whether it computes in bf16 natively (a T4
    does not), and how many GPUs are visible (``minireason.hardware``)."""
    from minireason.hardware import gpu

    card = gpu()
    if card is None:
        return {"device": "cpu", "name": "CPU", "memory_gb": None, "bf16": False, "gpus": 0}
    return {"device": "cuda", "name": card["name"], "memory_gb": round(card["memory_gib"], 2), "bf16": card["bf16"],
            "gpus": card["count"]}


# Google Drive, where Colab mounts it (Files pane → Mount Drive): the one folder a recycled Colab VM does not take
# with it. The kit never mounts it itself: mounting asks for the user's consent, and no cell may wait for input.
COLAB_DRIVE = Path("/content/drive/MyDrive")


def host() -> str:
    """``colab``, ``kaggle`` or ``local``, by the variables each service sets in its kernels."""
    import os

    if "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ:
        return "colab"
    return "kaggle" if "KAGGLE_KERNEL_RUN_TYPE" in os.environ else "local"


def output_folder(name: str, size: str, drive: Path = COLAB_DRIVE) -> str:
    """Where notebook ``name`` keeps its runs (checkpoints included): in Google Drive when it is mounted, so that a
    run resumes after Colab recycles its VM; otherwise ``outputs/notebooks/<size>/<name>`` in the checkout.

    >>> output_folder("02-pure-rl", "gpu", drive=Path("/nowhere"))
    'outputs/notebooks/gpu/02-pure-rl'
    """
    if drive.is_dir():
        return str(drive / "minireason" / "outputs" / size / name)
    return f"outputs/notebooks/{size}/{name}"


def persistence_note(out: str, where: str | None = None) -> str:
    """What keeps ``out`` (and a run's checkpoints in it) through a kernel restart, a recycled VM and a session's
    end, on this host. Running the notebook again resumes from the last checkpoint that survived.

    >>> persistence_note("outputs/notebooks/gpu/02-pure-rl", where="colab")[:90]
    'runs go to outputs/notebooks/gpu/02-pure-rl: a kernel restart keeps them; a recycled Colab'
    >>> "Mount Drive" in persistence_note("outputs/x", where="colab"), persistence_note("x", where="local")
    (True, 'runs go to x.')
    """
    where = where or host()
    if where == "colab" and not out.startswith(str(COLAB_DRIVE)):
        return (f"runs go to {out}: a kernel restart keeps them; a recycled Colab VM (idle, or at its time limit) "
                "deletes them. To keep them, open the Files pane, click Mount Drive, and run the notebook again: runs "
                f"then go to {COLAB_DRIVE}/minireason and resume from their last checkpoint.")
    if where == "colab":
        return f"runs go to {out}, in Google Drive: they survive a kernel restart and a recycled VM."
    if where == "kaggle":
        return (f"runs go to {out}: a kernel restart keeps them; the end of the session deletes them unless "
                "Settings → Persistence is 'Files only' (or 'Variables and Files'), set before the session ends, "
                "or the notebook runs as a saved version (Save Version), whose output keeps them.")
    return f"runs go to {out}."


def resolve_size(size: str) -> str:
    """``auto`` → ``gpu`` or ``cpu``; other sizes are checked and returned."""
    if size not in SIZES:
        raise ValueError(f"SIZE must be one of {SIZES}, got {size!r}")
    if size == "auto":
        return "gpu" if hardware()["device"] == "cuda" else "cpu"
    return size


def recipe_for(method: str, size: str, gpu_memory_gb: float | None = None) -> Path:
    """The recipe file for ``method`` (a folder name such as ``grpo-countdown``) at ``size``.

    ``tiny`` and ``cpu`` take the SmolLM2-135M CPU recipe; ``gpu`` takes the Qwen2.5-3B recipe
    for the largest card that this one matches (a 24 GB card gets the 16 GB recipe; a card sold as N GB
    reports about 0.92 N GiB, ``minireason.hardware.fits_recipe``), or the CPU recipe, run on the GPU,
    for methods with no 3B recipe.
    """
    from minireason.hardware import REPORTED_SHARE, fits_recipe

    size = resolve_size(size)
    recipes = recipe_root()
    cpu_recipe = recipes / "smollm2-135m" / method / "cpu.yaml"
    gpu_recipes = list((recipes / "qwen2.5-3b" / method).glob("*gb.yaml"))
    if size in ("tiny", "cpu") or not gpu_recipes:
        if not cpu_recipe.exists():
            raise FileNotFoundError(f"no CPU recipe for {method} (looked for {cpu_recipe})")
        return cpu_recipe
    memory = gpu_memory_gb if gpu_memory_gb is not None else hardware()["memory_gb"]
    if memory is None:
        raise ValueError("SIZE='gpu' needs a CUDA GPU; use SIZE='cpu' on this machine")
    fitting = [(_card_gb(path), path) for path in gpu_recipes if fits_recipe(_card_gb(path), memory)]
    if not fitting:
        smallest = min(_card_gb(path) for path in gpu_recipes)
        raise ValueError(f"no {method} recipe fits a {memory} GiB GPU (the smallest needs a {smallest} GB card, which "
                         f"reports at least {REPORTED_SHARE * smallest:.1f} GiB); use SIZE='cpu'")
    return max(fitting)[1]


def _card_gb(path: Path) -> int:
    """The GPU memory a recipe is written for, from its name (``t4-16gb`` → 16; ``cpu`` → 0)."""
    found = re.search(r"(\d+)gb$", path.stem)
    return int(found.group(1)) if found else 0


def recipe_flags(method: str, size: str, max_steps: int | None = None) -> tuple[Path, list[str]]:
    """The recipe for ``method`` at ``size`` and the flags that size it: the same flags
    ``minireason train RECIPE …`` takes. ``tiny`` always runs 2 steps, whatever ``max_steps`` says."""
    import yaml

    size = resolve_size(size)
    path = recipe_for(method, size)
    values = yaml.safe_load(path.read_text())
    flags = []
    if size == "tiny":
        flags += tiny_flags(grpo=values.get("method") in ("grpo", "sft-then-grpo"))
    elif max_steps is not None:
        flags += ["--max_steps", str(max_steps)]
    if size == "gpu":
        if _wants_vllm(values) and not _has("vllm"):
            print("minireason: vLLM is not installed; generating with transformers (pip install -e '.[vllm]')")
            flags += ["--use_vllm", "false"]
    return path, flags


def stages_for(method: str, size: str, out: str | Path, max_steps: int | None = None,
               overrides: list[str] = ()) -> list:
    """The recipe's stage configs, sized: the same objects ``minireason train`` builds. Each remembers the
    ``minireason train`` arguments that build it (``train_args``), so ``train`` can launch it on several GPUs."""
    from minireason.recipes import load_recipe

    path, flags = recipe_flags(method, size, max_steps)
    flags = ["--output_dir", str(out), *flags, *overrides]
    print(f"recipe: {path.relative_to(recipe_root())}\nflags:  {' '.join(flags)}")
    stages = load_recipe(path, flags)
    for stage in stages:
        stage.train_args = [str(path), *flags]
    return stages


def train(stages: list, processes: int | None = None) -> list[dict]:
    """Train ``stages`` (from ``stages_for``) and return each one's summary: in this process on one device; with
    several GPUs (Kaggle's two T4s), data-parallel, one process a GPU, through ``accelerate launch``.

    Data-parallel, each process runs the recipe's own per-device batch, so a step samples ``processes`` times the
    prompts in about the same time: rollouts per hour grow with the GPUs. The launch is a command, not accelerate's
    ``notebook_launcher``, which refuses to start once this kernel has touched CUDA (``hardware()`` has). The
    launched run writes the stages' folders and summaries, which are read back here.
    """
    from minireason.recipes import load_recipe, run
    from minireason.recipes.runs import run_settings

    processes = processes or max(hardware()["gpus"], 1)
    if processes > 1:
        # The launched processes rebuild the stages from their arguments: a change made to a stage after
        # stages_for would not reach them, so it is refused (pass it in stages_for's overrides instead).
        path, *flags = stages[0].train_args
        rebuilt = {stage.output_dir: stage for stage in load_recipe(path, flags)}
        for stage in stages:
            twin = rebuilt.get(stage.output_dir)
            if twin is None or (run_settings(twin), twin.max_steps) != (run_settings(stage), stage.max_steps):
                raise ValueError(f"{stage.output_dir} was changed after stages_for, and the launched processes would "
                                 "not see it: pass the change in stages_for's overrides (--grpo.max_steps 10, say)")
        accelerate = str(Path(sys.executable).parent / "accelerate")
        # --mixed_precision no: the recipe's precision decides (an fp32 run would otherwise take the launcher's).
        command = [accelerate, "launch", "--multi_gpu", "--num_processes", str(processes), "--mixed_precision", "no",
                   "-m", "minireason", "train", *stages[0].train_args]
        print(f"training data-parallel on {processes} devices: {' '.join(command)}", flush=True)
        subprocess.run(command, check=True)
        # Read, not run: this process's world of one would see the launched run's settings (its generation batch
        # spans every process) as another run's.
        return [json.loads((Path(stage.output_dir) / "summary.json").read_text()) for stage in stages]
    return run(stages)


def model_flags(model: str | None) -> list[str]:
    """Flags that swap a recipe's model, e.g. for a quicker look on a GPU (``qwen2.5-0.5b-instruct`` or
    ``qwen2.5-1.5b-instruct``, whose configs ship for ``minireason estimate``); an instruct model gets the chat
    prompt it was tuned on. None: the recipe's own model.

    >>> model_flags("qwen2.5-0.5b-instruct"), model_flags(None)
    (['--model', 'qwen2.5-0.5b-instruct', '--prompt_style', 'chat'], [])
    """
    if model is None:
        return []
    return ["--model", model] + (["--prompt_style", "chat"] if "instruct" in model else [])


def gpu_plan(method: str, minutes: float = 60, overrides: list[str] = ()) -> dict:
    """How many optimiser steps of this GPU's recipe for ``method`` fit ``minutes``, from the seconds a step takes
    by the card's arithmetic (``memory.step_seconds``: an estimate until a run measures it; the notebook prints the
    measured pace after training). Cards the kit does not know are planned as the recipe's own card."""
    from minireason.hardware import card_named
    from minireason.memory import card_of, step_seconds
    from minireason.recipes import load_recipe

    seen = hardware()
    path, flags = recipe_flags(method, "gpu")  # as the notebook will run it (without vLLM when it is missing)
    stage = load_recipe(path, [*flags, *overrides])[-1]
    card = card_named(seen["name"], seen["memory_gb"]) or card_of(str(path.relative_to(recipe_root()).with_suffix("")))
    seconds = step_seconds(stage, card)["step"]
    steps = max(int(minutes * 60 / seconds), 1)
    note = (f"{steps} steps of ~{seconds:.0f} s on a {card} (by the card's arithmetic, not measured): "
            f"~{steps * seconds / 60:.0f} min, then the held-out evaluation")
    if seen["gpus"] > 1:
        note += (f". On these {seen['gpus']} GPUs it trains data-parallel, one process a GPU (`notebook.train`): each "
                 f"step samples {seen['gpus']}x the recipe's prompts in about that time")
    return {"card": card, "seconds_per_step": round(seconds, 1), "steps": steps, "minutes": minutes, "note": note}


def recipe_steps(method: str, size: str) -> int | None:
    """The optimiser steps the full recipe for ``method`` at ``size`` runs (its last stage's
    ``max_steps``), or None when it runs whole epochs instead."""
    import yaml

    values = yaml.safe_load(recipe_for(method, size).read_text())
    steps = values.get("grpo", values).get("max_steps", values.get("max_steps"))
    return steps if steps and steps > 0 else None


def config_table(stages: list, fields: list[str] = ("model", "load_in_4bit", "lora_r", "task", "task_params",
                                                    "n_train", "max_steps", "num_train_epochs", "learning_rate",
                                                    "per_device_train_batch_size", "num_generations",
                                                    "max_completion_length", "reward_funcs", "adapter")) -> str:
    """A Markdown table of the settings that matter, one column per stage (fields a stage lacks show "-")."""
    names = [Path(stage.output_dir).name for stage in stages]
    rows = [[field, *(f"`{getattr(stage, field, '-')}`" for stage in stages)] for field in fields]
    return markdown_table(["field", *names], rows)


def _wants_vllm(values: dict) -> bool:
    return bool(values.get("use_vllm") or values.get("grpo", {}).get("use_vllm"))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def expectations(method: str) -> str:
    """A Markdown table of what each hardware tier's recipe for ``method`` says to expect
    (its header's ``expected:`` lines, estimates marked as such)."""
    names = sorted((name for name in recipe_names() if name.split("/")[1] == method),
                   key=lambda name: _card_gb(Path(name)))  # cpu first
    rows = [[f"`{info.name}`", info.expected] for info in map(describe, names)]
    return markdown_table(["recipe", "expected (from the recipe's header)"], rows)


def memory() -> dict:
    """GPU memory in use and at peak (GiB), or this process's resident memory on a CPU."""
    import torch

    if torch.cuda.is_available():
        return {"device": torch.cuda.get_device_name(0),
                "allocated_gb": round(torch.cuda.memory_allocated() / 2**30, 2),
                "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                "total_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}
    snapshot = {"device": "cpu"}
    try:
        import resource  # not on Windows
    except ImportError:
        return snapshot
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    snapshot["peak_rss_gb"] = round(peak / 2**30 if sys.platform == "darwin" else peak / 2**20, 2)
    statm = Path("/proc/self/statm")
    if statm.exists():
        import os

        snapshot["rss_gb"] = round(int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30, 2)
    return snapshot


def reward_table(row: dict, completions: list[str], rewards: list[str] = ("accuracy", "format", "reflection")) -> str:
    """A Markdown table of what each reward gives each completion for one problem: how GRPO sees them."""
    from minireason.rewards import REWARDS

    columns = {key: [value] * len(completions) for key, value in row.items() if key != "prompt"}
    scores = {name: REWARDS[name](completions, **columns) for name in rewards}
    rows = [[f"`{completion.replace('|', chr(92) + '|').replace(chr(10), ' ')}`",
             *(f"{scores[name][i]:g}" for name in rewards)] for i, completion in enumerate(completions)]
    return markdown_table(["completion", *rewards], rows, numeric=[False] + [True] * len(rewards))


def adapter_trained(final: str | Path) -> bool:
    """Whether a saved LoRA adapter moved from its start: PEFT starts every ``lora_B`` at zero."""
    from safetensors.torch import load_file

    weights = load_file(Path(final) / "adapter_model.safetensors")
    return any(tensor.abs().sum() > 0 for name, tensor in weights.items() if "lora_B" in name)


CLAIMS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "claims.md"


def claims_section(claim: int, page: Path = CLAIMS_PAGE) -> str:
    """Claim ``claim``'s measured section of docs/claims.md (1: pure RL and SFT, 3: journey vs shortcut, 4: inference
    scaling), as Markdown for a notebook: the figures over three seeds with intervals that a short run sits beside.

    >>> import tempfile
    >>> page = Path(tempfile.mkdtemp()) / "claims.md"
    >>> _ = page.write_text("intro\\n<!-- claim 3:start -->\\n## Claim 3\\n![plot](img/x.png)\\n<!-- claim 3:end -->\\n")
    >>> claims_section(3, page)
    '## Claim 3\\n![plot](../docs/img/x.png)'
    >>> claims_section(4, page)
    'Claim 4 is not measured on this page yet: `python benchmarks/claims.py --claims 4`.'
    """
    section = read_section(page, claim_section_name(claim))
    if section is None:
        return f"Claim {claim} is not measured on this page yet: `python benchmarks/claims.py --claims {claim}`."
    return section.replace("](img/", "](../docs/img/")  # the notebooks sit in notebooks/, the page in docs/
