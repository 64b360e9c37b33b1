"""The paper's network in PyTorch (kdkyum/neep, re-written), shared by the CPU and GPU training benchmarks.

Imported by ``train.py`` and ``train_gpu.py`` as a sibling module (both run as
scripts, so ``benchmarks/`` is on ``sys.path``); needs torch only when called.
"""

from __future__ import annotations

__all__ = ["paper_mlp"]


def paper_mlp(d: int, hidden: int, layers: int):
    """``h(s, s') - h(s', s)`` with ``h`` an MLP on the concatenated pair: in-place ReLU, as the paper's."""
    import torch

    class PaperMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [2 * d] + [hidden] * layers
            self.hidden = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.out = torch.nn.Linear(hidden, 1)

        def h(self, x):
            for layer in self.hidden:
                x = torch.relu_(layer(x))  # the paper's ReLU(inplace=True)
            return self.out(x)

        def forward(self, s, s_next):
            return self.h(torch.cat([s, s_next], -1)) - self.h(torch.cat([s_next, s], -1))

    return PaperMLP()
