"""Every recipe loads; each runs 2 steps on the tiny model (4-bit path included); configs behave."""

import json
import re
import shlex
from pathlib import Path

import pytest
import torch

from minireason.evaluation import first_samples
from minireason.notebook import tiny_flags
from minireason.recipes import load_recipe, run
from minireason.recipes.data import task_data
from minireason.reports.evals import check_run, load_run

pytestmark = pytest.mark.slow  # every recipe trains on the tiny model

ALL = sorted(Path(__file__).resolve().parents[1].glob("recipes/**/*.yaml"))
DATA_RECIPES = [p for p in ALL if "\nmethod: distill" in p.read_text()]  # `minireason data distill --config`
RECIPES = [p for p in ALL if p not in DATA_RECIPES]


def test_there_are_recipes_for_every_method_and_tier():
    names = {str(p.relative_to(p.parents[2])) for p in RECIPES}
    for expected in ("qwen2.5-3b/grpo-countdown/t4-16gb.yaml", "qwen2.5-3b/grpo-countdown/a100-40gb.yaml",
                     "qwen2.5-3b/grpo-countdown/h100-80gb.yaml", "qwen2.5-3b/grpo-arithmetic/t4-16gb.yaml",
                     "qwen2.5-3b/sft-then-grpo/t4-16gb.yaml", "smollm2-135m/grpo-countdown/cpu.yaml",
                     "smollm2-135m/grpo-arithmetic/cpu.yaml", "smollm2-135m/sft-then-grpo/cpu.yaml",
                     "smollm2-135m/sft/cpu.yaml", "smollm2-135m/journey-vs-shortcut/cpu.yaml",
                     "qwen2.5-3b/sft-distill-17k/a100-40gb.yaml"):
        assert expected in names
    assert {str(p.relative_to(p.parents[2])) for p in DATA_RECIPES} >= {
        "solver/distill-17k/cpu.yaml", "qwq-32b/distill-17k/vllm-server.yaml"}


@pytest.mark.parametrize("path", DATA_RECIPES, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_data_recipe_opens_with_its_launch_command(path):
    from minireason.distill import DistillConfig

    header = path.read_text().split("\nmethod:")[0]
    assert "launch:" in header and "expected:" in header
    assert f"minireason data distill --config {path.relative_to(path.parents[2]).with_suffix('')}" in header
    assert sum(source["n"] for source in DistillConfig.from_yaml(str(path)).sources) == 17_000


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_recipe_loads_and_opens_with_its_launch_command(path):
    header = path.read_text().split("\nmethod:")[0]
    assert "launch:" in header and "expected:" in header, "a recipe opens with its launch command and expectations"
    assert f"minireason train {path.relative_to(path.parents[2]).with_suffix('')}" in header
    stages = load_recipe(path)
    assert stages and all(stage.method in ("grpo", "sft") for stage in stages)
    if not torch.cuda.is_available():
        assert all(not stage.bf16 and not stage.gradient_checkpointing for stage in stages)
    for stage in stages:
        if stage.method == "grpo":
            assert stage.per_device_train_batch_size % stage.num_generations == 0


TINY = tiny_flags(grpo=False) + ["--save_steps", "1"]
TINY_GRPO = tiny_flags(grpo=True) + ["--save_steps", "1"]
# A launch line whose command needs a service the line starts first: QwQ-32B behind `vllm serve` on 4 GPUs.
NEEDS_A_SERVER = "minireason data distill --config qwq-32b/distill-17k/vllm-server"


def launch_commands(path: Path) -> list[str]:
    """The ``minireason`` commands of a recipe's header, as a user copies them: its ``launch:`` line and the lines
    that continue it, split at ``&&`` and ``&``, without comments, ``[optional parts]`` or ``(notes)``."""
    commands, inside = [], False
    for line in path.read_text().split("\nmethod:")[0].splitlines():
        if line.startswith("# launch:"):
            inside, text = True, line.removeprefix("# launch:")
        elif inside and re.match(r"^#\s{5,}\S", line):
            text = line.lstrip("#")
        else:
            inside = False
            continue
        text = re.sub(r"\[[^\]]*\]|\([^)]*\)", "", text.split(" #")[0])
        commands += [part.strip() for part in re.split(r"&&|\s&\s|\s&$", text) if part.strip().startswith("minireason ")]
    return commands


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """One folder the launch lines run in, as a user's checkout: a data set a line writes is there for the next."""
    return tmp_path_factory.mktemp("launch"), set()


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_every_launch_line_runs_as_written(path, workspace, tmp_path, monkeypatch, tiny_model_path):
    """Each header's launch line, run as written through the CLI (`minireason data distill --config
    solver/distill-17k/cpu` once stopped at a required --out its config gives), with the tiny model's flags added
    where it trains. The QwQ line needs the vLLM server its line starts: there the config is read, not run."""
    from minireason.cli import main

    folder, done = workspace
    monkeypatch.chdir(folder)
    commands = launch_commands(path)
    assert commands, f"{path}: the header needs a launch line with a minireason command"
    for command in commands:
        argv = shlex.split(command)[1:]
        if command == NEEDS_A_SERVER:
            from minireason.cli.data import _distill_config

            assert _distill_config("data distill", argv[2:], "", "", {}).out == "data/qwq-32b-distill-17k"
        elif argv[0] == "data":
            if command not in done:  # the same data set for every recipe that trains on it
                main([*argv, "--report_to", "none"])
                done.add(command)
        else:
            grpo = "grpo" in path.parent.name
            main([*argv, *(TINY_GRPO if grpo else TINY), "--output_dir", str(tmp_path)])
    if "\nmethod: distill" in path.read_text():
        return
    flags = [*shlex.split(commands[-1])[3:], *(TINY_GRPO if "grpo" in path.parent.name else TINY),
             "--output_dir", str(tmp_path)]
    stages = load_recipe(path, flags)
    if stages[-1].method == "grpo" and len(stages) == 2:  # sft-then-grpo: GRPO starts from the SFT adapter
        assert stages[1].adapter == str(Path(stages[0].output_dir) / "final")
    if "journey-vs-shortcut" in str(path):  # two SFT runs on the same problems, different traces
        assert [s.data_style for s in stages] == ["shortcut", "journey"]
        assert stages[0].seed == stages[1].seed and stages[0].n_train == stages[1].n_train
    for stage in stages:
        summary = json.loads((Path(stage.output_dir) / "summary.json").read_text())
        assert summary["steps"] == 2
        assert (Path(summary["final"]) / "adapter_config.json").exists()
        # The stage's evaluation is saved as every evaluation is, one greedy sample per held-out problem, stopped
        # at </answer>, and its figures are those of the samples it saved.
        assert summary["eval"] == str(Path(stage.output_dir) / "eval")
        evaluation = check_run(summary["eval"])
        samples = first_samples(evaluation["problems"])
        assert [s["id"] for s in samples] == [row["id"] for row in task_data(stage)[2]]
        assert evaluation["metrics"]["problems"] == len(samples) == 4
        assert evaluation["metrics"]["pass@1"] == sum(s["correct"] for s in samples) / 4
        assert evaluation["strategy"]["samples"] == 1 and evaluation["strategy"]["temperature"] == 0
        assert evaluation["strategy"]["stop"] == ["</answer>"]
        assert evaluation["config"]["step"] == 2 and evaluation["config"]["task"] == stage.task


def test_overrides_and_errors(tmp_path):
    recipe = RECIPES[0]
    (stage,) = load_recipe("recipes/smollm2-135m/grpo-countdown/cpu.yaml",
                           ["--learning_rate", "3e-6", "--task_params", "{num_numbers: 4}"])
    assert stage.learning_rate == 3e-6 and stage.task_params == {"num_numbers": 4}
    with pytest.raises(ValueError, match="unknown option"):
        load_recipe(recipe, ["--learning_rat", "1"])
    with pytest.raises(ValueError, match="method must be one of"):
        load_recipe({"method": "dpo"})
    with pytest.raises(ValueError, match="divisible by num_generations"):
        load_recipe({"method": "grpo", "num_generations": 3, "per_device_train_batch_size": 4})
    with pytest.raises(ValueError, match="unknown reward"):
        load_recipe({"method": "grpo", "reward_funcs": ["accuracy", "vibes"]})
    with pytest.raises(ValueError, match="unknown parameter"):
        load_recipe({"method": "grpo", "task": "countdown", "task_params": {"colour": 1}})


def test_every_claim_3_arm_is_a_journey_recipe_it_loads_as():
    """benchmarks/claims.py's arms are settings of the journey recipe: each loads, for each task it applies to,
    with its settings in force (a misspelt design would fail here, not an hour into a sweep)."""
    import importlib.util

    import yaml

    from minireason.recipes.catalog import find_recipe

    spec = importlib.util.spec_from_file_location("claims", Path(__file__).parents[1] / "benchmarks" / "claims.py")
    claims = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(claims)
    recipe = yaml.safe_load(find_recipe(claims.JOURNEY_RECIPE).read_text())
    loaded = 0
    for arm, settings in claims.JOURNEY_ARMS.items():
        for task, params in claims.JOURNEY_TASKS.items():
            if claims.arm_applies(arm, task):
                settings = {**settings, **({"own_errors_from": "runs/source"} if "own_errors_from" in settings else {})}
                (config,) = load_recipe({**recipe, **settings, "method": "sft", "task": task, "task_params": params})
                assert {key: getattr(config, key) for key in settings} == settings, arm
                loaded += 1
    assert loaded >= len(claims.JOURNEY_ARMS)


@pytest.mark.parametrize("name,kind,stage", [("ddp", "MULTI_GPU", None), ("zero2", "DEEPSPEED", 2),
                                             ("zero3", "DEEPSPEED", 3)])
def test_accelerate_configs_load(name, kind, stage):
    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(__file__).resolve().parents[1] / "accelerate_configs" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert config.distributed_type.name == kind
    assert (config.deepspeed_config or {}).get("zero_stage") == stage
    assert "-m minireason train" in path.read_text()


def test_sft_then_grpo_without_lora_continues_from_the_full_model(tmp_path, tiny_model_path):
    """Full fine-tuning (--lora false) saves a whole model: GRPO must load it as its model, not as an adapter."""
    stages = load_recipe("recipes/smollm2-135m/sft-then-grpo/cpu.yaml",
                         TINY_GRPO + ["--output_dir", str(tmp_path), "--lora", "false"])
    sft_final = str(tmp_path / "sft" / "final")
    assert stages[1].model == sft_final and stages[1].adapter is None
    sft_summary, grpo_summary = run(stages)
    assert (Path(sft_final) / "model.safetensors").exists()  # a whole model, not an adapter
    assert grpo_summary["steps"] == 2 and (Path(grpo_summary["final"]) / "model.safetensors").exists()


def test_grpo_after_sft_trains_and_saves_the_sft_adapter_and_nothing_else(tmp_path, tiny_model_path, monkeypatch):
    """The GRPO stage starts from the SFT adapter's values, changes only LoRA weights, saves them, and runs
    without dropout whatever rate the SFT adapter was trained with."""
    from safetensors.torch import load_file

    from minireason.models import load_model
    from minireason.rewards import REWARDS

    # The tiny model never answers, so the task's rewards give every completion 0 and GRPO no gradient;
    # a reward for length differs within every group.
    monkeypatch.setitem(REWARDS, "length", lambda completions, **kwargs: [float(len(str(c))) for c in completions])

    stages = load_recipe("recipes/smollm2-135m/sft-then-grpo/cpu.yaml",
                         TINY_GRPO + ["--output_dir", str(tmp_path), "--learning_rate", "1e-2"])
    stages[0].lora_dropout = 0.3
    stages[1].reward_funcs, stages[1].reward_weights = ["length"], None
    import trl.trainer.grpo_trainer

    warned = []
    monkeypatch.setattr(trl.trainer.grpo_trainer.logger, "warning", lambda message, *args: warned.append(message))
    init_kwargs = dict(stages[1].model_init_kwargs)
    sft_summary, grpo_summary = run(stages)
    # The GRPO stage's model is the SFT adapter's, already loaded: TRL is not handed load settings it would ignore
    # ("You passed `model_init_kwargs` … already instantiated"), and the run still records them.
    assert not [message for message in warned if "model_init_kwargs" in message]
    assert stages[1].model_init_kwargs == init_kwargs
    sft = load_file(Path(sft_summary["final"]) / "adapter_model.safetensors")
    grpo = load_file(Path(grpo_summary["final"]) / "adapter_model.safetensors")
    assert sft.keys() == grpo.keys() and all("lora_" in key for key in sft)
    assert any(not torch.equal(sft[key], grpo[key]) for key in sft)  # GRPO moved the adapter it was given
    base, _ = load_model("tiny")
    trained, _ = load_model("tiny", adapter=grpo_summary["final"])
    merged = trained.merge_and_unload()
    assert torch.equal(base.model.embed_tokens.weight, merged.model.embed_tokens.weight)  # no full-weight updates

    stage = load_recipe("recipes/smollm2-135m/sft-then-grpo/cpu.yaml", TINY + ["--output_dir", str(tmp_path)])[1]
    model, _, _ = stage.policy()
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert stage.lora_dropout == 0.0 and not dropouts


@pytest.mark.parametrize("recipe", ["smollm2-135m/grpo-arithmetic/cpu", "smollm2-135m/grpo-arithmetic-zero/cpu"])
def test_the_same_seed_gives_the_same_pure_rl_run(recipe, tmp_path, tiny_model_path):
    """Pure RL at one seed repeats itself bit for bit at one commit: the same rewards at every step and a
    byte-identical adapter (what docs/claims.md says of it), with or without a held-out curve measured along
    the way. A different seed gives a different run. Both pure-RL recipes: R1-Zero's orders its curriculum."""
    from safetensors.torch import load_file

    def adapter(folder, seed, *more):
        # A reward with spread in every group (text length), so each step moves the adapter.
        flags = [*TINY_GRPO, "--max_steps", "3", "--seed", str(seed), "--output_dir", str(tmp_path / folder),
                 "--reward_funcs", "tests.test_library:length_reward", "--reward_weights", "1.0", *more]
        (summary,) = run(load_recipe(recipe, flags))
        result = summary["reward_curve"], load_file(Path(summary["final"]) / "adapter_model.safetensors")
        if more:
            return result, {**summary, "samples": first_samples(load_run(summary["eval"])["problems"])}
        return result

    (curve, first), (again_curve, again) = adapter("a", 7), adapter("b", 7)
    assert len(curve) == 3 and curve == again_curve
    assert any(name.endswith("lora_B.weight") and first[name].abs().sum() > 0 for name in first)  # it trained
    assert first.keys() == again.keys() and all(torch.equal(first[name], again[name]) for name in first)
    _, other = adapter("c", 8)
    assert any(not torch.equal(first[name], other[name]) for name in first)
    # A held-out curve measured at every step does not move the run it measures.
    (curve_run, measured), summary = adapter("d", 7, "--curve_every", "1", "--curve_problems", "4")
    assert curve_run == curve and all(torch.equal(first[name], measured[name]) for name in first)
    assert [point[0] for point in summary["held_out_curve"]] == [0, 1, 2, 3]
    assert summary["held_out_curve"][-1][1] == sum(s["correct"] for s in summary["samples"][:4]) / 4


def test_a_curriculum_opens_with_its_easier_problems_in_order(tmp_path, tiny_model_path):
    """GRPO's first steps draw the curriculum's problems, in order, then the recipe's own; bad stages fail at load."""
    from minireason.recipes.grpo import build_trainer

    recipe, stages = "smollm2-135m/grpo-arithmetic/cpu", "[{steps: 2, task_params: {digits: 1}}]"
    flags = [*TINY_GRPO, "--output_dir", str(tmp_path), "--curriculum"]
    (stage,) = load_recipe(recipe, [*flags, stages])
    assert stage.shuffle_dataset is False and stage.curriculum == [{"steps": 2, "task_params": {"digits": 1}}]
    with pytest.raises(ValueError, match="each curriculum stage needs steps"):
        load_recipe(recipe, [*flags, "[{steps: 2}]"])
    with pytest.raises(ValueError, match="unknown parameter"):
        load_recipe(recipe, [*flags, "[{steps: 2, task_params: {colour: 1}}]"])
    trainer, _ = build_trainer(stage)
    per_step = stage.per_device_train_batch_size * stage.gradient_accumulation_steps // stage.num_generations
    order = list(dict.fromkeys(trainer._get_train_sampler()))[:3 * per_step]  # each prompt's first draw, in order
    operands = [max(trainer.train_dataset[i]["a"], trainer.train_dataset[i]["b"]) for i in order]
    assert all(x < 10 for x in operands[:2 * per_step])  # two steps of 1-digit sums
    assert all(10 <= x < 100 for x in operands[2 * per_step:])  # then the recipe's 2-digit ones


def test_a_journey_of_its_own_errors_samples_the_source_run_once(tmp_path, tiny_model_path):
    recipe = "recipes/smollm2-135m/journey-vs-shortcut/cpu.yaml"
    shortcut, _ = load_recipe(recipe, TINY + ["--output_dir", str(tmp_path / "pair")])
    run([shortcut])
    own_flags = TINY + ["--output_dir", str(tmp_path / "own"), "--error_source", "own", "--own_errors_from",
                        shortcut.output_dir, "--catch_style", "every_step"]
    _, journey = load_recipe(recipe, own_flags)
    (summary,) = run([journey])
    answers = first_samples(load_run(Path(journey.output_dir) / "own-answers")["problems"])
    assert summary["steps"] == 2 and [a["id"] for a in answers] == [row["id"] for row in task_data(journey)[1]]
    with pytest.raises(ValueError, match="own_errors_from"):
        load_recipe(recipe, TINY + ["--error_source", "own"])


def test_the_trainer_leaves_the_prompt_and_masked_errors_out_of_the_loss(tmp_path, tiny_model_path):
    from minireason.recipes.sft import build_trainer

    flags = ["--model", "tiny", "--n_train", "8", "--report_to", "none", "--error_rate", "1.0", "--catch_style",
             "every_step", "--same_endings", "true", "--packing", "false"]
    trained = {}
    for mask in ("false", "true"):
        (stage,) = load_recipe("recipes/smollm2-135m/sft/cpu.yaml", flags + [
            "--data_style", "journey", "--task", "arithmetic", "--task_params", "{op: add, digits: 3}",
            "--mask_errors", mask, "--output_dir", str(tmp_path / mask)])
        trainer, _ = build_trainer(stage)
        example, tokenizer = trainer.train_dataset[0], trainer.processing_class
        trained[mask] = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label != -100])
    assert "What is" not in trained["false"] and trained["false"].startswith("<think>")
    # Every column slips at error rate 1: masked, the wrong values vanish from the loss and the checks stay.
    assert trained["true"].count("Check:") == trained["false"].count("Check:") > 0
    assert len(trained["true"]) < len(trained["false"]) and ", not " in trained["true"]


def test_a_stage_saved_by_an_older_minireason_upgrades_to_the_files_it_would_write_now(tmp_path, tiny_model_path):
    """A stage in the old layout (eval_* fields in summary.json, a flat eval_samples.jsonl) is refused by
    ``run`` and ``load_run`` with the command that fixes it; ``minireason upgrade`` then rebuilds the very files
    a stage writes now, and refuses a folder whose old figures its samples do not give."""
    import json
    import shutil
    import subprocess
    import sys

    from minireason.recipes.runs import OldRunError
    from minireason.stats import wilson_interval

    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", TINY_GRPO + ["--output_dir", str(tmp_path / "new")])
    (summary,) = run([stage])
    new = load_run(summary["eval"])

    def old_layout(folder: Path, summary: dict, run: dict) -> None:
        """What the older minireason wrote: one flat line per sample, the figures inside summary.json."""
        shutil.copytree(tmp_path / "new", folder, ignore=shutil.ignore_patterns("eval"))
        samples = [{key: sample[key] for key in ("id", "completion", "tokens", "correct", "well_formed")}
                   for sample in first_samples(run["problems"])]
        (folder / "eval_samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
        n, correct = len(samples), sum(s["correct"] for s in samples)
        formed = sum(s["well_formed"] for s in samples)
        figures = {"accuracy": correct / n, "ci95": list(wilson_interval(correct, n)), "format_rate": formed / n,
                   "format_ci95": list(wilson_interval(formed, n)), "mean_tokens": sum(s["tokens"] for s in samples) / n,
                   "n": n, "seconds": run["metrics"]["seconds"]}
        old = {key: value for key, value in summary.items() if key != "eval"}
        (folder / "summary.json").write_text(json.dumps({**old, **{f"eval_{k}": v for k, v in figures.items()}}))

    old_layout(tmp_path / "old", summary, new)
    (again,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", TINY_GRPO + ["--output_dir", str(tmp_path / "old")])
    with pytest.raises(OldRunError, match=f"minireason upgrade {tmp_path / 'old'}"):
        run([again])
    with pytest.raises(FileNotFoundError, match="minireason upgrade"):
        load_run(tmp_path / "old")

    old_layout(tmp_path / "tampered", summary, new)
    tampered = json.loads((tmp_path / "tampered" / "summary.json").read_text())
    (tmp_path / "tampered" / "summary.json").write_text(json.dumps({**tampered, "eval_mean_tokens": 1234.0}))
    before = sorted(p.name for p in (tmp_path / "tampered").iterdir())

    command = [sys.executable, "-m", "minireason", "upgrade", str(tmp_path / "old"), str(tmp_path / "tampered")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1 and "mean_tokens" in result.stderr and "left as it was" in result.stderr
    assert sorted(p.name for p in (tmp_path / "tampered").iterdir()) == before  # refused: nothing moved
    # Stages are upgraded in order: "old" came first and is done.
    for name in ("eval.json", "samples.jsonl"):  # the same bytes, but for the folder's name
        written = (tmp_path / "new" / "eval" / name).read_text()
        assert (tmp_path / "old" / "eval" / name).read_text() == written.replace(
            str(tmp_path / "new"), str(tmp_path / "old")).replace('"label": "new"', '"label": "old"')
    assert json.loads((tmp_path / "old" / "summary.json").read_text()) == {**summary, "eval": str(tmp_path / "old" / "eval")}
    assert not (tmp_path / "old" / "eval_samples.jsonl").exists()
    assert run([again])[0]["steps"] == summary["steps"]  # finished, and now readable: returned, not retrained


def test_a_flag_with_a_stage_prefix_sets_that_stage_only():
    sft, grpo = load_recipe("smollm2-135m/sft-then-grpo/cpu", ["--grpo.max_steps", "7", "--seed", "3"])
    (plain_sft, plain_grpo) = load_recipe("smollm2-135m/sft-then-grpo/cpu")
    assert (sft.max_steps, grpo.max_steps) == (plain_sft.max_steps, 7) and sft.seed == grpo.seed == 3
    with pytest.raises(ValueError, match="unknown option"):
        load_recipe("smollm2-135m/sft-then-grpo/cpu", ["--sft.num_generations", "4"])
