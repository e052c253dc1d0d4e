"""The simulated-hardware tier: every GPU recipe on every card, decided on a CPU (tests/simulated_gpu.py).

Each card answers torch's queries as the real one does (a Colab T4: sm75, 14.74 GiB, bf16 only by emulation),
and each test asserts what the kit resolves to there: mixed precision, the base weights' dtype and device map,
the 4-bit compute dtype, the rollout engine and its stop strings, the evaluation length, and the notebook's
recipe. Seconds in all, so it runs in `make test-fast`; the one test that builds a trainer is slow.
"""

import json
import math

import pytest
import torch
from trl import GRPOConfig, SFTConfig  # noqa: F401  (imported before any patch: their import probes CUDA kernels)

from minireason import notebook
from minireason.answer_format import ANSWER_CLOSE
from minireason.grpo_trainer import rollout_engine
from minireason.memory import card_of
from minireason.recipes import load_recipe
from minireason.recipes.catalog import describe, recipe_names
from tests.simulated_gpu import MACHINES, simulated_gpu

GPU_RECIPES = [name for name in recipe_names() if card_of(name) and describe(name).method != "distill"]
# The recipe each machine's notebook runs: the largest card size it matches (a 24 GB L4 takes the T4 recipe;
# an 80 GB A100 the H100 one, vLLM included).
NOTEBOOK_RECIPE = {"T4 16 GB": "t4-16gb", "2x T4 16 GB (Kaggle)": "t4-16gb", "L4 24 GB": "t4-16gb",
                   "A100 40 GB": "a100-40gb", "A100 80 GB": "h100-80gb", "H100 80 GB": "h100-80gb"}


@pytest.mark.parametrize("machine", MACHINES)
def test_the_notebook_sees_the_card_and_picks_its_recipe(machine):
    card, count = MACHINES[machine]
    with simulated_gpu(machine):
        seen = notebook.hardware()
        size = notebook.resolve_size("auto")
        recipe = notebook.recipe_for("grpo-countdown", size)
    assert size == "gpu"
    assert seen == {"device": "cuda", "name": card.name, "memory_gb": round(card.memory_gib, 2), "bf16": card.bf16,
                    "gpus": count}
    assert recipe.parent.name == "grpo-countdown" and recipe.stem == NOTEBOOK_RECIPE[machine]


def test_the_gpu_notebook_plans_about_an_hour_on_the_card(monkeypatch):
    with simulated_gpu("T4 16 GB"):
        plan = notebook.gpu_plan("grpo-arithmetic")
        small = notebook.gpu_plan("grpo-arithmetic", overrides=notebook.model_flags("qwen2.5-0.5b-instruct"))
    with simulated_gpu("2x T4 16 GB (Kaggle)"):
        kaggle = notebook.gpu_plan("grpo-countdown", minutes=30)
    with simulated_gpu("H100 80 GB"):
        h100_without_vllm = notebook.gpu_plan("grpo-countdown")  # not installed here: minireason's sampler
        monkeypatch.setattr(notebook, "_has", lambda module: True)
        h100 = notebook.gpu_plan("grpo-countdown")
    assert plan["card"] == "T4 16 GB" and 10 < plan["seconds_per_step"] < 60
    # Past Mini-R1's ~50 steps and Unsloth's T4 notebook's 76-100, where its reward began to move.
    assert 100 <= plan["steps"] and plan["steps"] * plan["seconds_per_step"] <= 3600 * 1.01  # seconds rounded
    assert small["steps"] > 2 * plan["steps"]
    assert kaggle["steps"] * kaggle["seconds_per_step"] <= 1800 and "data-parallel" in kaggle["note"]
    assert h100["card"] == "H100 80 GB" and h100["seconds_per_step"] < h100_without_vllm["seconds_per_step"]


def test_a_t4_is_seen_as_the_14_74_gib_fp16_card_it_is():
    """The defects a simulated Colab T4 showed: 14.7 GiB found no recipe, and emulated bf16 counted as bf16."""
    with simulated_gpu("T4 16 GB"):
        assert torch.cuda.is_bf16_supported()  # what torch says by default on sm75: emulation counts
        seen = notebook.hardware()
        (stage,) = load_recipe("qwen2.5-3b/grpo-countdown/t4-16gb")
        _, _, quantization = stage.policy()
    assert seen["memory_gb"] == 14.74 and seen["bf16"] is False
    assert (stage.precision, stage.bf16, stage.fp16) == ("fp16", False, True)
    assert stage.model_init_kwargs == {"dtype": "float16", "device_map": {"": 0}}
    assert quantization.bnb_4bit_compute_dtype == torch.float16


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("name", GPU_RECIPES)
def test_every_gpu_recipe_resolves_for_every_card(name, machine):
    card, _ = MACHINES[machine]
    with simulated_gpu(machine):
        stages = load_recipe(name)
        policies = [None if stage.adapter else stage.policy() for stage in stages]  # an adapter stage loads weights
    half = "bfloat16" if card.bf16 else "float16"
    for stage, policy in zip(stages, policies):
        # Mixed precision the card computes in natively; fp16 (with loss scaling) on a T4.
        assert (stage.precision, stage.bf16, stage.fp16) == ("bf16" if card.bf16 else "fp16", card.bf16, not card.bf16)
        assert stage.gradient_checkpointing
        # Frozen base weights in half precision on this process's GPU; every trainable weight in fp32.
        assert stage.model_init_kwargs == {"dtype": half if stage.lora else "float32", "device_map": {"": 0}}
        assert stage.n_gpu == 1  # a second T4 is used through `accelerate launch`, never nn.DataParallel
        assert stage.lora_alpha == 2 * stage.lora_r
        if policy is not None and stage.load_in_4bit:
            assert policy[2].bnb_4bit_compute_dtype == getattr(torch, half)
        if stage.method != "grpo":
            continue
        assert stage.eval_max_new_tokens == stage.max_completion_length
        engine = rollout_engine(stage, stage.fast_rollouts)
        assert stage.compile_rollouts  # the decode step as a CUDA graph on any GPU (vLLM has its own)
        if stage.use_vllm:
            assert engine == "vllm"
            assert stage.generation_kwargs == {"stop": [ANSWER_CLOSE], "include_stop_str_in_output": True}
        else:
            assert engine == "minireason" and stage.stop_at_answer and stage.generation_kwargs is None


def test_flags_still_decide_over_the_card():
    with simulated_gpu("A100 40 GB"):
        (fp16,) = load_recipe("qwen2.5-3b/grpo-countdown/a100-40gb", ["--precision", "fp16"])
        (shorthand,) = load_recipe("qwen2.5-3b/grpo-countdown/a100-40gb", ["--fp16", "true"])
        (fp32,) = load_recipe("qwen2.5-3b/grpo-countdown/a100-40gb", ["--precision", "fp32"])
        (own,) = load_recipe("qwen2.5-3b/grpo-countdown/h100-80gb",
                             ["--generation_kwargs", '{"stop": ["\\n\\n"]}', "--eval_max_new_tokens", "64"])
        (trl,) = load_recipe("qwen2.5-3b/grpo-countdown/h100-80gb", ["--use_vllm", "false", "--top_p", "0.9"])
        with pytest.raises(ValueError, match="bf16 false does not say what to compute in: use --precision fp32"):
            load_recipe("qwen2.5-3b/grpo-countdown/a100-40gb", ["--bf16", "false"])
        with pytest.raises(ValueError, match="disagree"):
            load_recipe("qwen2.5-3b/grpo-countdown/a100-40gb", ["--precision", "bf16", "--fp16", "true"])
    assert (fp16.bf16, fp16.fp16, fp16.model_init_kwargs["dtype"]) == (False, True, "float16")
    assert (shorthand.precision, shorthand.model_init_kwargs) == ("fp16", fp16.model_init_kwargs)
    assert (fp32.bf16, fp32.fp16, fp32.model_init_kwargs["dtype"]) == (False, False, "float32")
    assert own.generation_kwargs["stop"] == ["\n\n"] and own.eval_max_new_tokens == 64
    assert rollout_engine(trl, trl.fast_rollouts) == "transformers" and trl.generation_kwargs is None


@pytest.mark.slow
@pytest.mark.parametrize("name, machine", [("qwen2.5-3b/grpo-countdown/t4-16gb", "T4 16 GB"),
                                           ("qwen2.5-3b/sft-then-grpo/t4-16gb", "T4 16 GB"),
                                           ("qwen2.5-3b/grpo-countdown/t4-16gb", "L4 24 GB"),
                                           ("qwen2.5-3b/grpo-countdown/a100-40gb", "A100 40 GB")])
@pytest.mark.slow
def test_the_trainer_holds_half_base_weights_and_fp32_adapters(name, machine, tmp_path, tiny_model_path):
    """The trainer is built here, on the CPU, with the dtypes the card resolved to (a simulated card holds no
    tensors). TRL casts a 4-bit model's adapters to bf16; they must come back as fp32 for the optimizer. The
    hidden states between layers (what checkpointing keeps) are in half precision, or under fp16 in fp32, around
    fp16 weights and fp16 4-bit compute."""
    from minireason.notebook import tiny_flags
    from minireason.recipes import grpo, sft

    with simulated_gpu(machine):
        on_card = load_recipe(name)[0]
        dtype, precision = on_card.model_init_kwargs["dtype"], on_card.precision
    stage = load_recipe(name, [*tiny_flags(grpo=True), "--output_dir", str(tmp_path), "--precision", precision,
                               "--model_init_kwargs", json.dumps({"dtype": dtype})])[0]
    computes_in = getattr(torch, {"fp16": "float16", "bf16": "bfloat16"}[precision])
    trainer, _ = (grpo if stage.method == "grpo" else sft).build_trainer(stage)
    model = trainer.model
    trainable = [param for param in model.parameters() if param.requires_grad]
    assert trainable and {param.dtype for param in trainable} == {torch.float32}
    assert model.get_input_embeddings().weight.dtype == getattr(torch, dtype)  # the tied head too: no per-token cast
    import bitsandbytes

    four_bit = [module for module in model.modules() if isinstance(module, bitsandbytes.nn.Linear4bit)]
    assert bool(four_bit) == stage.load_in_4bit
    assert {module.compute_dtype for module in four_bit} <= {computes_in}
    inputs = []
    layer = next(module for name, module in model.named_modules() if name.endswith("layers.0"))
    hook = layer.register_forward_pre_hook(lambda module, args, kwargs: inputs.append(
        (args[0] if args else kwargs["hidden_states"]).dtype), with_kwargs=True)
    with torch.no_grad(), torch.autocast("cpu", dtype=getattr(torch, dtype), enabled=precision == "fp16"):
        model(input_ids=torch.tensor([[1, 2, 3]]))  # a trainer runs the model under autocast
    hook.remove()
    # Under fp16 the residual stream runs in fp32 around the fp16 weights (hardware.fp32_residual_stream).
    assert inputs == [torch.float32 if precision == "fp16" else getattr(torch, dtype)]
    norms = {param.dtype for name, param in model.named_parameters() if "norm" in name}
    assert norms == {torch.float32 if precision == "fp16" else getattr(torch, dtype)}


def test_one_process_on_kaggles_two_t4s_pays_for_one():
    """The cost counted every visible GPU: one process training on one of Kaggle's two T4s was billed twice."""
    from transformers import TrainerControl, TrainerState

    from minireason.recipes.runs import CostCallback

    with simulated_gpu("2x T4 16 GB (Kaggle)"):
        (stage,) = load_recipe("qwen2.5-3b/grpo-countdown/t4-16gb")
        callback = CostCallback(gpu_hour_cost=0.35)
        callback.on_train_begin(stage, TrainerState(), TrainerControl())
        processes = stage.world_size
    assert processes == 1 and callback.devices == 1


def _t4_trainer_on_cpu(tmp_path, max_steps: int, init_scale: float = 2.0**16, checkpoints: bool = False,
                       flags: tuple[str, ...] = ()):
    """The T4 GRPO recipe's trainer as a T4 resolves it (fp16 autocast and loss scaling, 4-bit layers computing in
    fp16, the rest of the model in fp32, fp32 adapters, checkpointing), on the tiny model, on the CPU."""
    from minireason.notebook import tiny_flags
    from minireason.recipes import grpo
    from tests.simulated_gpu import fp16_on_cpu

    name = "qwen2.5-3b/grpo-countdown/t4-16gb"
    with simulated_gpu("T4 16 GB"):
        (on_t4,) = load_recipe(name)
        settings = (on_t4.precision, on_t4.activation_checkpointing, on_t4.model_init_kwargs["dtype"])
    (stage,) = load_recipe(name, [*tiny_flags(grpo=True), "--output_dir", str(tmp_path), "--max_steps", str(max_steps),
                                  "--precision", settings[0], "--activation_checkpointing", str(settings[1]).lower(),
                                  "--model_init_kwargs", json.dumps({"dtype": settings[2]}),
                                  *(["--save_steps", "1"] if checkpoints else ["--save_strategy", "no"]), *flags])
    trainer, _ = grpo.build_trainer(stage)
    fp16_on_cpu(trainer, init_scale)
    return trainer


@pytest.mark.slow
def test_the_t4_recipe_trains_in_fp16_with_loss_scaling_and_resumes_its_scaler(tmp_path, tiny_model_path):
    """No simulated card ever built an fp16 trainer: autocast, loss scaling and the scaler's state on resume never
    ran. Here they do, on the CPU, through the settings a T4 resolves to."""
    from minireason.training_guard import SkippedSteps

    trainer = _t4_trainer_on_cpu(tmp_path, max_steps=2, init_scale=1024.0, checkpoints=True)
    lora_outputs = []
    lora_a = next(module for name, module in trainer.model.named_modules() if name.endswith("q_proj.lora_A.default"))
    lora_a.register_forward_hook(lambda module, args, output: lora_outputs.append(output.dtype))
    trainer.train()
    assert torch.float16 in lora_outputs  # the adapters' matmuls ran under fp16 autocast
    assert {param.dtype for param in trainer.model.parameters() if param.requires_grad} == {torch.float32}
    stream = []
    layer = next(module for name, module in trainer.model.named_modules() if name.endswith("layers.1"))
    layer.register_forward_pre_hook(lambda module, args, kwargs: stream.append(
        (args[0] if args else kwargs["hidden_states"]).dtype), with_kwargs=True)
    with torch.no_grad():
        trainer.model(input_ids=torch.tensor([[1, 2, 3]]))  # its forward, as accelerate wrapped it: under autocast
    assert stream == [torch.float32]  # the residual stream, in fp32 around fp16 weights
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(map(math.isfinite, losses))
    assert any(isinstance(callback, SkippedSteps) for callback in trainer.callback_handler.callbacks)
    saved = torch.load(tmp_path / "checkpoint-2" / "scaler.pt", weights_only=True)
    assert saved["scale"] == trainer.accelerator.scaler.get_scale() <= 1024.0

    resumed = _t4_trainer_on_cpu(tmp_path, max_steps=3, checkpoints=True)  # a fresh scaler starts at 2**16
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    assert resumed.state.global_step == 3
    assert resumed.accelerator.scaler.get_scale() <= saved["scale"]  # it went on from the saved scale


@pytest.mark.slow
def test_an_fp16_run_stops_at_a_loss_that_is_not_a_number(tmp_path, tiny_model_path):
    from minireason.training_guard import NonFiniteTraining

    trainer = _t4_trainer_on_cpu(tmp_path, max_steps=2)
    embeddings = trainer.model.get_input_embeddings()  # rollouts run without gradients; the loss's forward with them
    embeddings.register_forward_hook(lambda module, args, output: output * float("nan") if torch.is_grad_enabled()
                                     else output)
    with pytest.raises(NonFiniteTraining, match=r"step 1: the loss is nan, not a number\. In fp16 this is an "
                                                r"overflow: .*--precision fp32"):
        trainer.train()


@pytest.mark.slow
def test_an_fp16_run_stops_when_the_scaler_skips_step_after_step(tmp_path, tiny_model_path):
    """A scaler that skips every step (gradients that overflow at every scale) used to let the step counter run on
    over a model that no longer trained."""
    from minireason.training_guard import MAX_SKIPPED_STEPS, NonFiniteTraining

    trainer = _t4_trainer_on_cpu(tmp_path, max_steps=MAX_SKIPPED_STEPS + 2, flags=("--max_completion_length", "2",
                                                                                  "--gradient_accumulation_steps", "1"))
    adapter = next(param for param in trainer.model.parameters() if param.requires_grad)
    adapter.register_hook(lambda grad: grad * float("inf"))
    with pytest.raises(NonFiniteTraining, match=f"step {MAX_SKIPPED_STEPS}: the fp16 loss scaler skipped the last "
                                                f"{MAX_SKIPPED_STEPS} optimizer steps"):
        trainer.train()
    assert trainer.accelerator.scaler.get_scale() == 2.0**16 / 2**MAX_SKIPPED_STEPS


# One process of `accelerate launch --multi_gpu --num_processes 2` on a simulated Kaggle box: the launcher's
# environment, accelerate's process group over gloo (NCCL needs real GPUs), and the T4 SFT -> GRPO recipe loaded
# and its adapter stage's model placed, as that process would (the loader itself is replaced: the card holds nothing).
ONE_KAGGLE_PROCESS = """
import json, sys
import torch.distributed
from trl import GRPOConfig, SFTConfig
from tests.simulated_gpu import simulated_gpu
import minireason.models
from minireason.recipes import load_recipe
from minireason.recipes.runs import claim_output_dir

start = torch.distributed.init_process_group
torch.distributed.init_process_group = lambda *args, backend=None, **kwargs: start(*args, backend="gloo", **kwargs)
placed = []
minireason.models.load_model = lambda *args, device_map=None, **kwargs: (placed.append(device_map), None)[::-1]
minireason.models.set_lora_dropout = lambda model, p: None
with simulated_gpu("2x T4 16 GB (Kaggle)"):
    sft, grpo = load_recipe("qwen2.5-3b/sft-then-grpo/t4-16gb", ["--output_dir", sys.argv[1]])
    grpo.policy()  # the SFT -> GRPO stage loads the saved adapter's model itself
    torch.distributed.barrier()
    claim_output_dir(sft), claim_output_dir(grpo)  # both processes, one folder: the same run
    print(json.dumps({"rank": grpo.process_index, "processes": grpo.world_size,
                      "type": grpo.distributed_state.distributed_type.value,
                      "device_map": grpo.model_init_kwargs["device_map"], "loaded_on": placed}))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("launches_processes")
def test_two_launched_processes_on_kaggles_two_t4s_each_place_the_model_on_their_own(tmp_path):
    """Under `accelerate launch`, every process set device_map={"": 0}: rank 1's SFT -> GRPO model (a saved adapter,
    which the kit loads itself) landed on GPU 0, where accelerate refuses a 4-bit model of another process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29533"}
    launched = [subprocess.Popen([sys.executable, "-c", ONE_KAGGLE_PROCESS, str(tmp_path)], text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}) for rank in (0, 1)]
    results = []
    for process in launched:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    for rank, seen in enumerate(results):
        assert seen == {"rank": rank, "processes": 2, "type": "MULTI_GPU", "device_map": {"": rank},
                        "loaded_on": [{"": rank}]}


def test_the_fp16_overflow_advice_trains_in_fp32_on_a_t4():
    """The sampler's NaN error said `--fp16 false`, which on a T4 changed nothing: with bf16 unset, the card's fp16
    came back. The advice now names flags that, given on a T4, compute in fp32 (and in bf16 where a card has it)."""
    import re

    from minireason.hardware import FP16_OVERFLOW_FIX

    fp32_flag, bf16_flag = re.findall(r"--precision \w+", FP16_OVERFLOW_FIX)[::-1]
    with simulated_gpu("T4 16 GB"):
        (stage,) = load_recipe("qwen2.5-3b/grpo-countdown/t4-16gb", fp32_flag.split())
        _, _, quantization = stage.policy()
        with pytest.raises(ValueError, match="fp16 false does not say what to compute in: use --precision fp32"):
            load_recipe("qwen2.5-3b/grpo-countdown/t4-16gb", ["--fp16", "false"])  # refused, no longer ignored
    assert (stage.precision, stage.bf16, stage.fp16) == ("fp32", False, False)
    assert stage.model_init_kwargs["dtype"] == "float32" and quantization.bnb_4bit_compute_dtype == torch.float32
    with simulated_gpu("L4 24 GB"):
        (on_l4,) = load_recipe("qwen2.5-3b/grpo-countdown/t4-16gb", bf16_flag.split())
    assert (on_l4.precision, on_l4.bf16, on_l4.model_init_kwargs["dtype"]) == ("bf16", True, "bfloat16")


@pytest.mark.parametrize("has_bf16", [True, False], ids=["AVX512-BF16", "no bf16"])
def test_a_cpu_decides_its_precision_by_its_bf16_instructions(has_bf16, monkeypatch):
    """bf16 where the CPU computes it natively (AVX512-BF16 or AMX: 2.3x fp32's matmuls, 1.7x a training step on an
    EPYC), fp32 where torch would emulate it; the adapters and every weight that trains stay fp32."""
    monkeypatch.setattr("minireason.hardware.cpu_bf16_native", lambda: has_bf16)
    (lora,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu")
    (full,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", ["--lora", "false"])
    half = "bf16" if has_bf16 else "fp32"
    assert (lora.precision, lora.bf16, lora.fp16, lora.model_init_kwargs["dtype"]) == (
        half, has_bf16, False, "bfloat16" if has_bf16 else "float32")
    assert (full.precision, full.model_init_kwargs["dtype"]) == (half, "float32")  # fp32 masters, bf16 autocast
    assert not lora.activation_checkpointing and not lora.compile_rollouts
