"""The faster GRPO step computes what TRL computes: same samples' distribution, same log-probs, same gradients."""

import pytest
import torch

from minireason.models import load_model
from minireason.sampling import draw_tokens, sample_ids, select_rows

pytestmark = pytest.mark.slow  # builds models and trains GRPO steps


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    torch.manual_seed(0)
    model, tokenizer = load_model("tiny", lora={"lora_dropout": 0.0})
    for name, parameter in model.named_parameters():  # a non-zero adapter, so merging changes the weights
        if "lora_B" in name:
            parameter.data.normal_(0, 0.5)
    return model, tokenizer


PREAMBLE = "Solve the problem below. Show your steps, then give the answer in tags."


def _prompts(tokenizer, preamble: bool = False):
    """Repeats and three lengths, as in a GRPO batch; with ``preamble``, all begin with the same instruction."""
    texts = ["What is 12 + 65?", "Add 3 and 4, then explain.", "Hi"]
    ids = [tokenizer((PREAMBLE + " " if preamble else "") + t, add_special_tokens=False)["input_ids"] for t in texts]
    return [ids[0], ids[1], ids[0], ids[2], ids[1], ids[0]]


def _rows_embedded(model):
    """The (rows, tokens) of every forward pass ``model`` runs, while the returned list is kept."""
    seen = []
    handle = model.get_input_embeddings().register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    return seen, handle


def test_draw_tokens_follows_the_tempered_softmax():
    torch.manual_seed(1)
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5])
    draws = draw_tokens(logits.repeat(40_000, 1), 0.5)
    observed = torch.bincount(draws, minlength=5).float() / len(draws)
    expected = torch.softmax(logits / 0.5, -1)
    assert torch.allclose(observed, expected, atol=0.01), (observed, expected)


@pytest.mark.parametrize("preamble", [False, True], ids=["own prompts", "a shared beginning"])
def test_greedy_sampling_follows_the_models_own_argmax(tiny, preamble):
    """Each greedy token is the argmax of an unpadded, uncached forward pass over the same text. An instruction that
    begins every prompt is read once for the batch, then each distinct prompt's own tokens (padded between the
    two)."""
    model, tokenizer = tiny
    prompts = _prompts(tokenizer, preamble)
    seen, handle = _rows_embedded(model)
    completions = sample_ids(model, prompts, 6, 0.0, tokenizer.pad_token_id, eos_token_ids=[-1])
    handle.remove()
    assert [len(c) for c in completions] == [6] * len(prompts)
    shared = len(tokenizer(PREAMBLE, add_special_tokens=False)["input_ids"]) if preamble else 0
    assert seen[:1 + bool(shared)] == [torch.Size([1, shared])] * bool(shared) + \
        [torch.Size([3, max(map(len, prompts)) - shared])]  # the beginning once, then 3 distinct prompts
    model.eval()
    with torch.no_grad():
        for prompt, completion in zip(prompts, completions):
            logits = model(input_ids=torch.tensor([prompt + completion])).logits[0, len(prompt) - 1 : -1]
            chosen = logits.gather(1, torch.tensor(completion)[:, None]).squeeze(1)
            assert torch.all(logits.max(-1).values - chosen < 1e-4)
    assert completions[0] == completions[2] == completions[5]  # the same prompt, the same greedy path


def test_completions_end_at_eos_or_a_stop_string(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)
    free = sample_ids(model, prompts, 8, 0.0, tokenizer.pad_token_id, eos_token_ids=[-1])
    eos = free[0][2]  # pretend the third greedy token of the first prompt ends a sequence
    ended = sample_ids(model, prompts, 8, 0.0, tokenizer.pad_token_id, eos_token_ids=[eos])
    for before, after in zip(free, ended):
        cut = before.index(eos) + 1 if eos in before else len(before)
        assert after == before[:cut]  # kept up to and including the end token, nothing after
    stop = tokenizer.decode(free[3][1:3])  # a string the fourth prompt's greedy path completes at its third token
    stopped = sample_ids(model, prompts, 8, 0.0, tokenizer.pad_token_id, [-1], tokenizer=tokenizer, stop=[stop])
    assert stopped[3] == free[3][:3]
    for before, after in zip(free, stopped):
        assert before[: len(after)] == after
        assert len(after) == len(before) or stop in tokenizer.decode(after)


def test_rows_that_end_leave_the_batch_and_the_others_sample_as_before(tiny):
    """Once a quarter of the rows have ended they leave the cache, and the rest decode at a smaller batch; every row
    draws what it drew when none ended (one uniform per row and step, whatever the others did)."""
    model, tokenizer = tiny
    prompts = [ids for ids in _prompts(tokenizer) for _ in range(2)]
    torch.manual_seed(5)
    free = sample_ids(model, prompts, 10, 1.0, tokenizer.pad_token_id, eos_token_ids=[-1])
    eos = [row[2] for row in free[:4]]  # ends the first 4 rows by their third token
    torch.manual_seed(5)
    seen, handle = _rows_embedded(model)
    ended = sample_ids(model, prompts, 10, 1.0, tokenizer.pad_token_id, eos_token_ids=eos)
    handle.remove()
    for before, after in zip(free, ended):
        cut = min([before.index(token) + 1 for token in eos if token in before] or [len(before)])
        assert after == before[:cut]
    assert all(len(c) <= 3 for c in ended[:4]) and any(len(c) == 10 for c in ended)
    assert seen[-1][0] < len(prompts)  # the last steps ran on the rows still going


def test_sampling_reads_each_distinct_prompt_once_and_leaves_the_adapter_unmerged(tiny):
    model, tokenizer = tiny
    prompts = _prompts(tokenizer)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    batch_sizes = []
    hook = model.get_base_model().model.embed_tokens.register_forward_hook(
        lambda module, args, output: batch_sizes.append(output.shape[:2]))
    model.train()
    try:
        sample_ids(model, prompts, 3, 1.0, tokenizer.pad_token_id, eos_token_ids=[-1])
    finally:
        hook.remove()
    assert batch_sizes[0] == (3, max(len(p) for p in prompts))  # three distinct prompts, read once each
    assert all(shape == (len(prompts), 1) for shape in batch_sizes[1:])  # then one token per row and step
    assert model.training
    assert not any(getattr(module, "merged", False) for module in model.modules())  # every adapter apart again
    # Unmerging subtracts what merging added: the base weights come back up to rounding (w + d - d is not always w in
    # floating point, sampling.inference_mode), which an exact comparison turned into a test that failed by the order
    # tests ran in.
    assert all(torch.allclose(weights[k], v, rtol=0, atol=1e-6) for k, v in model.state_dict().items())


def test_logits_that_are_not_numbers_raise_instead_of_becoming_tokens(tiny):
    """fp16 overflow gives NaN logits; the inverse-CDF search used to turn them into the last vocabulary id."""
    model, tokenizer = tiny
    head = model.get_output_embeddings().weight
    saved = head.data.clone()
    head.data[7, 0] = float("nan")  # every row's logit for token 7 becomes NaN
    try:
        for temperature in (1.0, 0.0):
            with pytest.raises(FloatingPointError, match="6 of 6 rollouts met logits that are not numbers.*--precision fp32"):
                sample_ids(model, _prompts(tokenizer), 4, temperature, tokenizer.pad_token_id, eos_token_ids=[-1])
    finally:
        head.data.copy_(saved)


def test_cache_rows_are_chosen_on_each_layers_own_device():
    """A model split over two GPUs keeps each layer's cache on that layer's GPU, so the rows' index must go to
    each layer's device. The meta device stands in for the second GPU; each tensor records the index it got."""
    from types import SimpleNamespace

    class Placed:
        def __init__(self, device):
            self.device, self.indexed_on = torch.device(device), []

        def index_select(self, dim, index):
            self.indexed_on.append(index.device.type)
            return torch.zeros(len(index), 1, 2, 1, device=self.device)

    layers = [SimpleNamespace(keys=Placed(device), values=Placed(device)) for device in ("cpu", "meta")]
    chosen = select_rows(SimpleNamespace(layers=layers), torch.tensor([2, 0, 2]))
    assert [(layer.keys.indexed_on, layer.values.indexed_on) for layer in layers] == [(["cpu"], ["cpu"]),
                                                                                       (["meta"], ["meta"])]
    assert [layer.keys.device.type for layer in chosen.layers] == ["cpu", "meta"]


@pytest.mark.parametrize("preamble", [False, True], ids=["own prompts", "a shared beginning"])
@pytest.mark.parametrize("head", ["plain", "fused"])
def test_shared_prefix_log_probs_and_gradients_match_trls(tiny, head, preamble):
    """The same per-token log-probs, entropies and LoRA gradients as TRL's full forward through its fused LM
    head, on a shuffled batch with repeated prompts of several lengths and completions of several lengths,
    at a temperature other than 1; with prompts that begin alike, that beginning read once for all."""
    from trl.trainer.utils import add_fused_lm_head

    from minireason.grpo_trainer import shared_prefix_forward

    model, tokenizer = tiny
    add_fused_lm_head(model.get_base_model(), temperature=0.7, outputs=("log_probs", "entropy"))
    prompts = _prompts(tokenizer, preamble)
    seen, handle = _rows_embedded(model)
    torch.manual_seed(2)
    completions = [torch.randint(100, 1000, (n,)).tolist() for n in (5, 2, 7, 4, 7, 1)]
    width, length = max(map(len, prompts)), max(map(len, completions))
    rows = [[tokenizer.pad_token_id] * (width - len(p)) + p + c + [tokenizer.pad_token_id] * (length - len(c))
            for p, c in zip(prompts, completions)]
    mask = [[0] * (width - len(p)) + [1] * (len(p) + len(c)) + [0] * (length - len(c))
            for p, c in zip(prompts, completions)]
    input_ids, attention_mask = torch.tensor(rows), torch.tensor(mask)
    scored = attention_mask[:, width:].bool()
    model.eval()  # no dropout: both passes must see the same function

    def run(forward):
        model.zero_grad()
        logps, entropy = forward()
        (logps * scored).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        return logps.detach() * scored, entropy.detach() * scored, grads

    def trl():
        labels = input_ids.masked_fill(attention_mask == 0, -100)
        labels[:, :width] = -100
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
        return out.log_probs[:, -length:], out.entropy[:, -length:]

    def shared():
        return shared_prefix_forward(model, input_ids, attention_mask, length, 0.7 if head == "plain" else None)

    trl_run = run(trl)
    seen.clear()
    shared_run = run(shared)
    handle.remove()
    assert (seen[0][0] == 1) == preamble, seen  # the beginning read once, for all rows, when there is one
    for expected, got in zip(trl_run, shared_run):
        assert expected.shape == got.shape
        assert torch.allclose(expected, got, atol=1e-4), (expected - got).abs().max()


@pytest.fixture
def grpo_trainer(tmp_path, tiny_model_path):
    from minireason.recipes import load_recipe
    from minireason.recipes.grpo import build_trainer

    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", [
        "--model", "tiny", "--output_dir", str(tmp_path), "--report_to", "none", "--n_train", "8", "--n_eval", "0",
        "--num_generations", "4", "--per_device_train_batch_size", "4", "--max_completion_length", "24",
        "--mask_truncated_completions", "true"])
    trainer, _ = build_trainer(stage)
    return trainer


def test_a_rollout_that_stops_at_the_answer_is_finished_not_truncated(grpo_trainer, monkeypatch):
    """A rollout ending at </answer> carried no end token, so TRL counted it as truncated (the CPU demo logged a
    clipped ratio of 0.94 at 25 of 32 tokens) and mask_truncated_completions dropped every well-formed answer from
    the loss. A completion cut at the length limit stays truncated."""
    import minireason.grpo_trainer

    trainer, tokenizer = grpo_trainer, grpo_trainer.processing_class
    answered = tokenizer("<think>2 + 2 = 4.</think>\n<answer>4</answer>", add_special_tokens=False)["input_ids"]
    rambling = tokenizer("<think>" + "and so on " * 20, add_special_tokens=False)["input_ids"][:24]
    rollouts = [answered, answered, answered, rambling]
    monkeypatch.setattr(minireason.grpo_trainer, "sample_ids", lambda model, prompts, *args, **kwargs: rollouts)
    batch = trainer._generate_and_score_completions([trainer.train_dataset[0]] * 4)
    kept = batch["completion_mask"].sum(1).tolist()
    assert kept[:3] == [len(answered) + 1] * 3 and kept[3] == 0  # the end token added, and trained on
    assert trainer._metrics["train"]["completions/clipped_ratio"][-1] == 0.25
    assert batch["completion_ids"][0, len(answered)].item() == tokenizer.eos_token_id


def test_vllm_rollouts_that_stop_at_the_answer_are_finished_too(grpo_trainer, monkeypatch):
    """vLLM's stop strings leave the same mark: the end token goes after them, with a sampling log-probability of 0
    (certain), so the importance-sampling correction stays aligned with the tokens."""
    from trl import GRPOTrainer

    trainer, tokenizer = grpo_trainer, grpo_trainer.processing_class
    answered = tokenizer("<answer>4</answer>", add_special_tokens=False)["input_ids"]
    monkeypatch.setattr(trainer.args, "use_vllm", True)
    monkeypatch.setattr(trainer.args, "generation_kwargs", {"stop": ["</answer>"], "include_stop_str_in_output": True})
    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn",
                        lambda self, *args, **kwargs: ([answered, answered[:-1]], [[-0.5] * len(answered)] * 2))
    ids, logprobs = trainer._generate_single_turn([[1, 2]] * 2, None, {}, 2)
    assert ids == [answered + [tokenizer.eos_token_id], answered[:-1]]
    assert logprobs[0] == [-0.5] * len(answered) + [0.0] and logprobs[1] == [-0.5] * len(answered)


@pytest.mark.parametrize("four_bit", [False, True], ids=["fp32 merged", "4-bit apart, fp16"])
def test_the_compiled_decode_step_samples_the_same_tokens(four_bit, tiny_model_path):
    """A decode step compiled over a static cache (on a GPU, recorded as one CUDA graph) samples what the eager
    sampler samples at the same seed, in one graph (fullgraph: a graph break would leave kernels for the host to
    launch): greedy on both paths, and at temperature 1 in fp32. (In fp16 the static cache's longer, masked attention
    rows round differently, and this random model's flat distributions put the inverse CDF's draws within that
    rounding of a bin's edge.) On the 4-bit path, inductor compiles it too, as on a GPU."""
    model, tokenizer = load_model("tiny", load_in_4bit=four_bit, lora={"lora_dropout": 0.0},
                                  precision="fp16" if four_bit else None)
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 0.5)
    prompts = _prompts(tokenizer)
    compilers = [{"backend": "aot_eager", "fullgraph": True}] + ([{"fullgraph": True}] if four_bit else [])
    for temperature in (0.0,) if four_bit else (0.0, 1.0):
        torch.manual_seed(3)
        eager = sample_ids(model, prompts, 10, temperature, tokenizer.pad_token_id, [-1])
        for options in compilers:
            torch.manual_seed(3)
            assert sample_ids(model, prompts, 10, temperature, tokenizer.pad_token_id, [-1],
                              compile_decode=options) == eager, (temperature, options)


def test_on_a_bf16_cpu_grpo_trains_fp32_adapters_on_bf16_weights_that_rollouts_leave_as_they_were(
        tmp_path, tiny_model_path, bf16_cpu):
    """A CPU with bf16 instructions: base weights in bf16 under bf16 autocast, adapters and their optimizer state in
    fp32. The rollouts sample with the adapter apart, as the loss computes it: merged into bf16 weights, most of a
    small update rounds away (and taken out again, the weights move by whole ulps at every step)."""
    from minireason.recipes import load_recipe
    from minireason.recipes.grpo import build_trainer

    (stage,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu", [
        "--model", "tiny", "--output_dir", str(tmp_path), "--report_to", "none", "--n_train", "8", "--n_eval", "0",
        "--num_generations", "4", "--per_device_train_batch_size", "4", "--max_completion_length", "8",
        "--max_steps", "2", "--save_strategy", "no", "--learning_rate", "1e-2"])
    trainer, _ = build_trainer(stage)
    base = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if not p.requires_grad}
    for name, parameter in trainer.model.named_parameters():
        if "lora_B" in name:  # a non-zero adapter, so merging it changes the weights
            parameter.data.normal_(0, 0.5)
    trainer.train()
    assert stage.precision == "bf16" and {p.dtype for p in base.values()} == {torch.bfloat16}
    assert trainer.model.config._attn_implementation == "sdpa_fp32"  # TRL loaded the path as load_model would
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    assert {p.dtype for p in trainable} == {torch.float32}
    assert {s["exp_avg"].dtype for s in trainer.optimizer.state.values()} == {torch.float32}
    after = dict(trainer.model.named_parameters())
    assert all(torch.equal(after[name], weight) for name, weight in base.items())  # two rollouts later, bit for bit


@pytest.mark.parametrize("alpha_over_r", [2, 3])  # a scaling of 2 rides on B; 3 is applied after, as PEFT does
def test_the_sampler_draws_from_the_policy_the_loss_trains_on_bf16_weights(tiny, bf16_cpu, alpha_over_r):
    """On bf16 weights the rollouts see the logits the loss computes (bf16 autocast, the adapter apart), exactly:
    merged into bf16 weights, a small adapter update would mostly round away and they would sample another policy.
    The sampler's lean adapter layers (``adapters_in``) compute PEFT's own numbers, and leave PEFT's forward after."""
    from minireason.models import DEFAULT_LORA, load_model
    from minireason.sampling import inference_mode

    torch.manual_seed(0)
    model, tokenizer = load_model("tiny", precision="bf16", lora={
        "lora_dropout": 0.0, "lora_alpha": alpha_over_r * DEFAULT_LORA["r"]})
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            parameter.data.normal_(0, 1e-3)  # a small update, as a few GRPO steps make
    ids = torch.tensor([_prompts(tokenizer)[1]])
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        trained = model(input_ids=ids).logits  # as the loss runs the model
    with inference_mode(model):
        lean = [m for m in model.modules() if "forward" in vars(m)]
        sampled = model(input_ids=ids).logits
    assert lean and not [m for m in model.modules() if "forward" in vars(m)]
    with inference_mode(model, lean_adapters=False):  # a compiled decode step's: PEFT's own layers, compiled once
        assert not [m for m in model.modules() if "forward" in vars(m)]
    assert torch.equal(sampled, trained)


def test_on_a_bf16_cpu_attention_computes_on_fp32_copies(tiny, bf16_cpu, monkeypatch):
    """torch's CPU attention kernel is slow in bf16 (hardware.attention_implementation): a bf16 model on the CPU
    attends in fp32, under the trainer's autocast too, and hands bf16 on to the next layer."""
    from minireason.hardware import FP32_ATTENTION

    model, tokenizer = load_model("tiny", precision="bf16")
    assert model.config._attn_implementation == FP32_ATTENTION
    seen = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording(query, key, value, *args, **kwargs):
        seen.append((query.dtype, key.dtype, value.dtype))
        output = sdpa(query, key, value, *args, **kwargs)
        seen.append(output.dtype)
        return output

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording)
    ids = torch.tensor([_prompts(tokenizer)[1]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[-1]
    assert seen and set(seen) == {(torch.float32,) * 3, torch.float32} and hidden.dtype == torch.bfloat16
    assert load_model("tiny", precision="fp32")[0].config._attn_implementation == "sdpa"
