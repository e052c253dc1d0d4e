"""Reward functions: values on hand-made cases, both completion formats, TRL compatibility."""

import pytest

from minireason.rewards import REWARDS, get_reward
from minireason.tasks import get_task


def as_messages(texts):
    return [[{"role": "assistant", "content": t}] for t in texts]


GOOD, NO_THINK, TRAILING = ("<think>2+3=5</think>\n<answer>5</answer>", "<answer>5</answer>",
                            "<think>a</think><answer>5</answer> and more")


@pytest.mark.parametrize("wrap", [list, as_messages])
def test_format_reward(wrap):
    assert REWARDS["format"](wrap([GOOD, NO_THINK, TRAILING, "<think><think>a</think><answer>1</answer>"])) == [
        1.0, 0.0, 0.0, 0.0]


def test_format_reward_knows_prefilled_think_prompts():
    completion = "2+3=5</think><answer>5</answer>"
    assert REWARDS["format"]([completion], prompts=["Assistant: <think>"]) == [1.0]
    assert REWARDS["format"]([completion], prompts=["Assistant:"]) == [0.0]


@pytest.mark.parametrize("name", ["format", "format_partial"])
def test_format_rewards_anneal_with_the_trainers_step(name):
    """``anneal_steps`` scales the score down along training from the step TRL passes, and only when set."""
    from types import SimpleNamespace

    reward = get_reward(name, anneal_steps=60)
    state = SimpleNamespace(global_step=0)
    assert reward([GOOD], trainer_state=state) == [1.0]
    state.global_step = 45
    assert reward([GOOD, NO_THINK], trainer_state=state) == pytest.approx([0.25, REWARDS[name]([NO_THINK])[0] * 0.25])
    state.global_step = 90
    assert reward([GOOD], trainer_state=state) == [0.0]
    assert REWARDS[name]([GOOD], trainer_state=state) == [1.0]  # not annealed unless asked
    logged = {}
    state.global_step = 30
    assert reward([GOOD, GOOD], trainer_state=state, log_metric=logged.__setitem__) == [0.5, 0.5]
    assert logged == {f"rewards/{REWARDS[name].__name__}/unannealed": 1.0}  # the rate written, beside the pay
    with pytest.raises(ValueError, match="no setting"):
        get_reward(name, trainer_state=state)  # TRL's argument, not a setting


def test_progress_line_shows_the_written_format_rate_while_the_format_reward_anneals():
    import io
    from types import SimpleNamespace

    from minireason.console import StageConsole

    console = StageConsole(None, "zero", samples=0, stream=io.StringIO())
    console.on_train_begin(None, SimpleNamespace(global_step=0), None)
    state = SimpleNamespace(is_world_process_zero=True, global_step=70, max_steps=90)
    console.on_log(None, state, None, logs={"reward": 1.0, "rewards/format_reward/mean": 0.0,
                                            "rewards/format_reward/unannealed": 0.97})
    assert console.figures["format"] == 0.97  # not the 0.0 it was paid at step 70 of a 60-step anneal


def test_accuracy_reward_uses_each_rows_task_and_params():
    countdown = get_task("countdown", format_score=0.25)
    arithmetic = get_task("arithmetic", op="add")
    rows = [countdown.generate(1, seed=0)[0], arithmetic.generate(1, seed=0)[0]]
    good = [f"<answer>{rows[0]['solution']}</answer>", f"<answer>{rows[1]['answer']}</answer>"]
    bad = ["<answer>1</answer>", "<answer>1</answer>"]
    columns = {key: [row.get(key) for row in rows] for key in rows[0].keys() | rows[1].keys()}
    assert REWARDS["accuracy"](good, **columns) == [1.0, 1.0]
    assert REWARDS["accuracy"](bad, **columns) == [0.25, 0.1]  # countdown's own format_score
    assert REWARDS["accuracy"](as_messages(good), **columns) == [1.0, 1.0]


def test_accuracy_reward_without_task_column_fails_loudly():
    with pytest.raises(ValueError, match="'task' column"):
        REWARDS["accuracy"](["<answer>1</answer>"], answer=[1])


def test_language_consistency():
    english = "<think>First add the tens, then the units.</think><answer>5</answer>"
    mixed = "<think>First 加上 tens</think><answer>5</answer>"
    chinese = "<think>先加十位</think><answer>5</answer>"
    reward = REWARDS["language_consistency"]
    assert reward([english, mixed, chinese]) == [1.0, pytest.approx(9 / 11), 0.0]  # First+tens: 9 Latin letters, 2 Han
    assert reward([english, chinese], language=["en", "zh"]) == [1.0, 1.0]
    assert get_reward("language_consistency", language="zh")([chinese]) == [1.0]
    assert reward(["<think>12 * 4 = 48</think>"]) == [1.0]  # no letters: nothing in another language


def test_shaping_rewards():
    assert REWARDS["overlong"](["x"] * 3, completion_ids=[[1] * 10, [1] * 896, [1] * 2000]) == [0.0, -0.5, -1.0]
    assert get_reward("overlong", max_tokens=100, buffer_tokens=50)(["a" * 300]) == [-0.5]  # ~4 chars a token
    assert REWARDS["repetition"](["a b c d e f", "go go go go go go"]) == [0.0, pytest.approx(-0.75)]
    assert get_reward("repetition", max_penalty=-0.5)(["go go go go go go"]) == [pytest.approx(-0.375)]


def test_get_reward_errors_and_names():
    with pytest.raises(ValueError, match="available rewards"):
        get_reward("nope")
    with pytest.raises(ValueError, match="max_tokens"):
        get_reward("overlong", max_token=3)


def test_every_reward_has_a_doctest():
    for name, reward in REWARDS.items():
        assert ">>>" in (reward.__doc__ or ""), name


@pytest.mark.slow
def test_rewards_run_inside_trl_grpo_trainer(tiny_model_path, tmp_path):
    """One real GRPO step on the tiny model: TRL calls our rewards and logs each one."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rows = get_task("countdown").generate(4, seed=0)
    config = GRPOConfig(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=4,
        max_completion_length=12, bf16=False, gradient_checkpointing=False, report_to=[], logging_steps=1,
        use_cpu=True, save_strategy="no",
    )
    trainer = GRPOTrainer(model=tiny_model_path, args=config, train_dataset=Dataset.from_list(rows),
                          reward_funcs=[REWARDS["accuracy"], get_reward("format", anneal_steps=4),
                                        get_reward("overlong", max_tokens=8, buffer_tokens=4)])
    trainer.train()
    logged = trainer.state.log_history[0]
    assert {"rewards/accuracy_reward/mean", "rewards/format_reward/mean", "rewards/overlong_reward/mean"} <= logged.keys()
    # TRL passes its step and log_metric: at step 0 the annealed format pays in full, and its written rate is logged.
    assert logged["rewards/format_reward/unannealed"] == logged["rewards/format_reward/mean"] == 0.0
    # A random model never writes an answer tag, and 12 tokens overrun the 8-token budget.
    assert logged["rewards/accuracy_reward/mean"] == 0.0
    assert logged["rewards/overlong_reward/mean"] == -1.0
