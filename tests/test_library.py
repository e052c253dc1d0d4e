"""The kit as a library: recipes shipped in the wheel and found by name, a CLI generated from the configs,
configs without side effects, and the defects a review found (each test failed before its fix)."""

import json
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from minireason.notebook import tiny_flags
from minireason.recipes import load_recipe, run
from minireason.recipes.catalog import copy_recipe, describe, find_recipe, recipe_names, recipe_root

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "minireason", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


# -- recipes by name ------------------------------------------------------------------------------

def test_every_recipe_file_has_a_name_and_a_listing():
    names = recipe_names()
    assert len(names) == len(list((ROOT / "recipes").rglob("*.yaml")))
    assert find_recipe("qwen2.5-3b/grpo-countdown/t4-16gb") == recipe_root() / "qwen2.5-3b/grpo-countdown/t4-16gb.yaml"
    assert find_recipe("recipes/smollm2-135m/sft/cpu.yaml").name == "cpu.yaml"  # a checkout path still works
    info = describe("qwen2.5-3b/grpo-countdown/t4-16gb")
    assert (info.method, info.model, info.hardware) == ("grpo", "qwen2.5-3b", "t4-16gb")
    assert "ESTIMATE" in info.expected and not info.measured
    assert describe("smollm2-135m/sft-then-grpo/cpu").measured
    with pytest.raises(FileNotFoundError, match="smollm2-135m/sft/cpu"):  # a typo lists the near names
        find_recipe("smollm2-135m/sft/gpu")


@pytest.mark.slow  # three CLI processes, each importing the kit: 4.8 s on CI's machine, over the fast tier's 4
def test_recipes_command_lists_and_copies(tmp_path):
    listing = cli("recipes")
    assert listing.returncode == 0, listing.stderr
    for name in recipe_names():
        assert name in listing.stdout
    copied = cli("recipes", "copy", "smollm2-135m/sft/cpu", str(tmp_path / "mine.yaml"))
    assert copied.returncode == 0 and (tmp_path / "mine.yaml").read_text() == find_recipe("smollm2-135m/sft/cpu").read_text()
    again = cli("recipes", "copy", "smollm2-135m/sft/cpu", str(tmp_path / "mine.yaml"))
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites an edited copy
    with pytest.raises(FileExistsError):
        copy_recipe("smollm2-135m/sft/cpu", tmp_path / "mine.yaml")


@pytest.mark.slow
def test_train_help_shows_the_recipes_fields_with_its_values():
    result = cli("train", "smollm2-135m/sft-then-grpo/cpu", "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "stage 1 of 2: sft" in out and "stage 2 of 2: grpo" in out
    # Each stage's options, with the recipe's values as their defaults: SFT's and GRPO's own learning rates.
    assert "AdamW learning rate. (default: 0.0006)" in out and "AdamW learning rate. (default: 0.0001)" in out
    for field in ("--reward_funcs", "--num_generations", "--prompt_style", "--task_params", "--lora_r"):
        assert field in out
    assert "prompt_style: base" in out  # the recipe's own settings, listed first


@pytest.mark.slow
def test_subcommand_help_comes_from_the_dataclasses():
    from minireason.scaling import Strategy
    from minireason.teachers import TeacherOptions

    evaluate = cli("eval", "--help").stdout
    for field in ("--samples", "--think_budget", "--run", "--prompt_style", "--n_problems"):
        assert field in evaluate
    assert Strategy.__dataclass_fields__["waits"].metadata["help"].split(":")[0] in evaluate
    distill = cli("data", "distill", "--help").stdout
    for name, field in TeacherOptions.__dataclass_fields__.items():
        assert f"--{name}" in distill and f"(default: {field.default})" in " ".join(distill.split())
    assert not any("def build_parser" in path.read_text() for path in (ROOT / "minireason" / "cli").glob("*.py"))


def test_one_default_per_knob():
    """The teacher's token budget: one default, whichever door a run comes in by."""
    from minireason.distill import DistillConfig
    from minireason.teachers import TeacherOptions

    default = TeacherOptions().max_new_tokens
    cfg = DistillConfig(out="x", sources=[{"task": "countdown", "n": 1}])
    assert cfg.teacher_options["max_new_tokens"] == default
    assert "(default: 1024)" in " ".join(cli("data", "journey", "--help").stdout.split())
    with pytest.raises(ValueError, match="unexpected keyword argument 'max_tokens'"):  # a misspelt knob fails
        DistillConfig(out="x", sources=[{"task": "countdown", "n": 1}], teacher_options={"max_tokens": 10})


@pytest.mark.slow
def test_the_wheel_ships_the_recipes_and_runs_without_a_checkout(tmp_path):
    """Build the wheel, install it alone into a fresh environment (its dependencies from this one), and use it
    from a folder with no checkout in sight."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("minireason-*.whl")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True,
                   timeout=600)
    # The dependencies, from this environment: its site-packages joins the path after the new one's, as a plain
    # folder (its .pth files, the editable install's among them, are not run).
    (site,) = (env_dir / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(next(p for p in sys.path if p.endswith("site-packages")) + "\n")
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": ""}
    where = subprocess.run([python, "-c", "import minireason; print(minireason.__file__)"], cwd=away, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(env_dir)), f"imported {where}, not the installed wheel"
    listing = subprocess.run([python, "-m", "minireason", "recipes"], cwd=away, env=env, capture_output=True,
                             text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert all(name in listing.stdout for name in recipe_names())
    loaded = subprocess.run([python, "-c", "from minireason.demo import demo_stages; from minireason.recipes.catalog "
                             "import recipe_root; stages = [s for s in demo_stages('out', zero=True) if s]; "
                             "print('found', recipe_root(), len(stages))"],
                            cwd=away, env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    _, root, stages = next(line for line in loaded.stdout.splitlines() if line.startswith("found ")).split()
    assert root.startswith(str(env_dir)) and root.endswith("recipe_files") and stages == "4"
    estimate = subprocess.run([python, "-m", "minireason", "estimate", "qwen2.5-3b/grpo-countdown/t4-16gb"], cwd=away,
                              env=env, capture_output=True, text=True, timeout=300)
    assert estimate.returncode == 0 and "| T4 16 GB |" in estimate.stdout, estimate.stderr  # model configs shipped


# -- configs without side effects -------------------------------------------------------------------

def test_loading_a_recipe_changes_nothing_outside_it(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("loading a recipe opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    # The libraries a config is built from are imported first: importing torch._dynamo (which TRL and peft
    # do) sets TORCHINDUCTOR_CACHE_DIR itself (torch 2.13). What is checked is what loading a recipe does.
    import peft  # noqa: F401
    import trl  # noqa: F401

    before = dict(os.environ)
    for name in recipe_names():
        if describe(name).method != "distill":
            load_recipe(name)  # every recipe reports to wandb
    assert dict(os.environ) == before


def test_an_explicit_setting_is_honoured():
    for name in ("--activation_checkpointing", "--gradient_checkpointing"):  # the current name, and the old one
        (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", [name, "true"])
        assert stage.gradient_checkpointing is True and stage.activation_checkpointing is True
    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu")
    assert stage.activation_checkpointing is False and stage.gradient_checkpointing is False  # the CPU's default


def test_loading_a_recipe_warns_of_no_deprecated_name():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        load_recipe("smollm2-135m/sft-then-grpo/cpu", ["--gradient_checkpointing", "false"])


# -- defects, each with the test that found it -------------------------------------------------------

def test_sft_on_a_data_set_never_trains_on_an_evaluation_question(tmp_path):
    from minireason.recipes.data import task_data
    from minireason.recipes.sft import build_trainer

    (stage,) = load_recipe("smollm2-135m/sft/cpu", tiny_flags(grpo=False) + ["--output_dir", str(tmp_path / "run")])
    task, train_rows, eval_rows = task_data(stage)
    leaked = eval_rows[:3]
    rows = [{"prompt": row["prompt"], "completion": [{"role": "assistant", "content": task.reference_completion(row)}]}
            for row in train_rows[:5] + leaked]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    stage.dataset_path = str(tmp_path / "data.jsonl")
    trainer, _ = build_trainer(stage)
    trained = [json.dumps(example) for example in trainer.train_dataset]
    assert len(trainer.train_dataset) == 5
    assert not any(task.question(row) in text for row in eval_rows for text in trained)


@pytest.mark.slow
def test_a_finished_run_with_other_settings_is_refused(tmp_path, tiny_model_path):
    flags = tiny_flags(grpo=True) + ["--output_dir", str(tmp_path), "--n_eval", "0"]
    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", flags)
    first = run([stage])[0]
    (same,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", flags)
    assert run([same])[0] == first  # the same run again: its summary, no training
    (other,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", flags + ["--learning_rate", "0.1"])
    with pytest.raises(ValueError, match=r"other settings \(learning_rate: 0.0002 -> 0.1\)"):
        run([other])
    settings = json.loads((tmp_path / "run_config.json").read_text())["settings"]
    assert settings["prompt_style"] == "base_example" and settings["learning_rate"] == 2e-4


def test_overlong_follows_the_completion_length_and_rewards_take_settings_from_yaml():
    recipe = {"method": "grpo", "model": "tiny", "task": "arithmetic", "max_completion_length": 96,
              "reward_funcs": ["accuracy", "overlong", "repetition"],
              "reward_settings": {"overlong": {"buffer_tokens": 32}, "repetition": {"ngram": 2}}}
    (stage,) = load_recipe(recipe)
    _, overlong, repetition = stage.reward_functions()
    # 96 tokens is the limit: 64 free, then a linear fall to -1 at 96. With the old fixed 1024, both gave 0.
    assert overlong(["x"] * 3, completion_ids=[[0] * 64, [0] * 80, [0] * 96]) == [0.0, -0.5, -1.0]
    assert repetition(["a b a b a b"]) != stage.reward_functions()[2].func(["a b a b a b"])  # ngram=2, not 3
    with pytest.raises(ValueError, match="has no setting"):
        load_recipe({**recipe, "reward_settings": {"overlong": {"max_length": 3}}})
    with pytest.raises(ValueError, match="does not use"):
        load_recipe({**recipe, "reward_settings": {"format": {}}})


@pytest.mark.slow
def test_a_reward_of_your_own_trains_by_its_dotted_path(tmp_path, tiny_model_path):
    flags = tiny_flags(grpo=True) + ["--output_dir", str(tmp_path), "--max_steps", "1", "--n_eval", "0",
                                     "--reward_funcs", "tests.test_library:length_reward", "--reward_weights", "1.0"]
    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", flags)
    summary = run([stage])[0]
    assert summary["steps"] == 1
    history = json.loads((tmp_path / "trainer_state.json").read_text())["log_history"]
    assert "rewards/length_reward/mean" in history[0]


def length_reward(completions, **kwargs):
    return [float(len(str(c))) for c in completions]


@pytest.mark.slow
def test_eval_of_a_run_uses_the_runs_prompt_style(tmp_path, tiny_model_path):
    flags = tiny_flags(grpo=True) + ["--output_dir", str(tmp_path / "run"), "--n_eval", "0"]
    run(load_recipe("smollm2-135m/grpo-arithmetic/cpu", flags))  # prompt_style: base_example
    result = cli("eval", "--run", str(tmp_path / "run"), "--samples", "1", "--n_problems", "2", "--max_new_tokens",
                 "4", "--out", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert saved["config"]["prompt_style"] == "base_example" and saved["config"]["adapter"].endswith("final")
    assert saved["config"]["task_params"]["op"] == "add"  # the run's task, not the task's default (mul)
    # The tiny model's tokenizer has a chat template: the guess would have been "chat".
    from minireason.models import load_tokenizer

    assert load_tokenizer("tiny").chat_template is not None


@pytest.mark.slow
@pytest.mark.xdist_group("launches_processes")
@pytest.mark.parametrize("launch,processes", [(["--cpu", "--num_processes", "2"], 1),
                                              (["--multi_gpu", "--num_processes", "2"], 2)], ids=["cpu-flag", "two-processes"])
def test_a_grpo_recipe_runs_under_accelerate(tmp_path, tiny_model_path, launch, processes):
    """``accelerate launch --cpu --num_processes 2`` runs ONE process (accelerate's simple launcher ignores the
    count with --cpu). ``--multi_gpu --num_processes 2`` on a machine without a GPU runs two CPU processes over
    gloo: the recipes set ``use_cpu`` there, which is what accelerate needs to join them."""
    accelerate = str(Path(sys.executable).parent / "accelerate")
    result = subprocess.run([accelerate, "launch", *launch, "-m", "minireason", "train", "smollm2-135m/grpo-arithmetic/cpu",
                             *tiny_flags(grpo=True), "--output_dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "trainer_state.json").read_text())["global_step"] == 2
    assert _world_size(tmp_path) == processes
    assert result.stdout.count("| problems |") == 1  # one process evaluated and printed its table


def _world_size(output_dir: Path) -> int:
    """How many processes trained: the Trainer saves its arguments, with the world size they ran under."""
    import torch

    args = torch.load(output_dir / "final" / "training_args.bin", weights_only=False)
    return args.world_size


def test_the_optional_bitsandbytes_kernel_warning_is_silenced_and_nothing_else(caplog):
    import logging

    import minireason  # noqa: F401  (installs the filter)

    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        logger.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s.", "no network")
        logger.warning("a real problem")
    assert [record.getMessage() for record in caplog.records] == ["a real problem"]


def test_every_prompt_style_comes_from_the_one_format_module():
    from minireason.answer_format import FORMAT_INSTRUCTION, PROMPT_STYLES, THINK_OPEN
    from minireason.tasks import get_task, row_prompt

    task = get_task("arithmetic", op="add", digits=2)
    row = task.split_rows(1, seed=0, held_out=True)[0]
    chat, base, example = (row_prompt(row, style) for style in PROMPT_STYLES)
    assert FORMAT_INSTRUCTION in chat[0]["content"] and task.question(row) in chat[0]["content"]
    assert base.endswith(THINK_OPEN) and example.endswith(base)
    shown = example.removesuffix(base)  # one worked training question, in the format, before the real one
    assert shown.count("<answer>") == 2 and "</think>\n<answer>" in shown  # the instruction's tags and the trace's
    (worked,) = task.split_rows(1, seed=1000)
    assert not task.is_held_out(worked) and task.question(worked) in shown
    with pytest.raises(ValueError, match="prompt_style must be one of"):
        row_prompt(row, "one-shot")


@pytest.mark.slow
@pytest.mark.xdist_group("launches_processes")
def test_the_notebook_trains_sft_then_grpo_data_parallel_as_two_processes(tmp_path, tiny_model_path):
    """What a notebook on Kaggle's two T4s runs, as two CPU processes over gloo: the SFT -> GRPO recipe (whose GRPO
    stage loads the SFT adapter itself, the route that broke on rank 1), launched by ``notebook.train``; both
    stages train with a world of two, and the notebook reads their summaries back."""
    from minireason import notebook

    stages = notebook.stages_for("sft-then-grpo", "tiny", tmp_path)
    sft_summary, grpo_summary = notebook.train(stages, processes=2)
    assert [_world_size(tmp_path / stage) for stage in ("sft", "grpo")] == [2, 2]
    assert sft_summary["steps"] == grpo_summary["steps"] == 2
    assert json.loads((tmp_path / "grpo" / "run_config.json").read_text())["settings"]["adapter"] == \
        str(tmp_path / "sft" / "final")
