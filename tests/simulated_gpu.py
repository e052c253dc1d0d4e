"""Present a GPU to torch on a machine without one: the queries the kit, TRL, transformers and accelerate make
before they touch a device (availability, count, capability, properties, bf16) answer as the card would.

Nothing runs on the card: code that allocates on it still fails, which is what keeps these tests honest about
deciding, not training. Import TRL's configs before entering (their import probes CUDA kernels).
"""

from __future__ import annotations

import contextlib
import types
from unittest import mock

from minireason.hardware import CARDS, Card

# The machines of the issue: the cards above, and Kaggle's box of two T4s.
MACHINES = {name: (card, 1) for name, card in CARDS.items()} | {"2x T4 16 GB (Kaggle)": (CARDS["T4 16 GB"], 2)}


@contextlib.contextmanager
def simulated_gpu(machine: str):
    """Within the block, torch reports ``MACHINES[machine]``; accelerate's cached device state is reset on entry
    and on exit, so neither side sees the other's."""
    import torch
    from accelerate.state import AcceleratorState, PartialState

    card, count = MACHINES[machine]
    props = types.SimpleNamespace(name=card.name, total_memory=card.total_memory, major=card.capability[0],
                                  minor=card.capability[1], multi_processor_count=40, is_integrated=False)

    def bf16_supported(including_emulation: bool = True) -> bool:
        return card.bf16 or including_emulation  # any CUDA card can hold bf16 tensors; sm80+ computes in it

    def reset():
        AcceleratorState._reset_state(reset_partial_state=True)
        PartialState._reset_state()

    patches = {"is_available": lambda: True, "device_count": lambda: count,
               "get_device_capability": lambda device=None: card.capability,
               "get_device_properties": lambda device=None: props, "get_device_name": lambda device=None: card.name,
               "is_bf16_supported": bf16_supported, "set_device": lambda device: None, "current_device": lambda: 0}
    reset()
    with contextlib.ExitStack() as stack:
        for name, value in patches.items():
            stack.enter_context(mock.patch.object(torch.cuda, name, value))
        # accelerate asks torch.accelerator which device type this is (and so which process group it launches)
        stack.enter_context(mock.patch.object(torch.accelerator, "current_accelerator",
                                              lambda check_available=False: torch.device("cuda")))
        try:
            yield card
        finally:
            reset()


def card_of_machine(machine: str) -> Card:
    return MACHINES[machine][0]


def fp16_on_cpu(trainer, init_scale: float = 2.0**16) -> None:
    """Give a trainer built with ``--precision fp16`` on the CPU what accelerate gives it on a GPU: fp16 autocast
    around the model's forward and a loss scaler on its optimizer. Accelerate makes neither on a CPU (its
    ``Accelerator`` creates the scaler only when the device is not the CPU); torch 2.13 runs both there. Call before
    ``train()``, which prepares the model and optimizer with them."""
    import torch

    assert trainer.accelerator.state.mixed_precision == "fp16", "build the trainer with --precision fp16"
    trainer.accelerator.native_amp = True
    trainer.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
