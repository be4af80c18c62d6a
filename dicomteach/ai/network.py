"""The nodule network in PyTorch: a small 2.5D U-Net, for training and export only.

Five neighbouring slices go in as channels (the slice read and two either
side, 5 mm each way at 2.5 mm), so the network can tell a round nodule that
ends within a few slices from a vessel that runs on through them; one map of
logits comes out, for the middle slice. Three levels of two 3×3 convolutions
with batch normalisation, max pooling down, nearest-neighbour upsampling and
one convolution up: every operation exports to plain ONNX and onnxruntime
fuses the normalisation into the convolutions.

Run time uses onnxruntime (:mod:`dicomteach.ai.runtime`); this module needs
PyTorch (``pip install 'dicomteach[ai-train]'``) and is imported only by
training, export, the tests and the benchmark.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _block(inputs: int, outputs: int, convolutions: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n in range(convolutions):
        layers += [
            nn.Conv2d(inputs if n == 0 else outputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class NoduleNet(nn.Module):
    """2.5D U-Net: ``(batch, slices, rows, columns)`` → logits ``(batch, 1, rows, columns)``.

    Rows and columns must be multiples of 8 (three poolings).

    >>> net = NoduleNet(slices=5, width=4).eval()
    >>> net(torch.zeros(2, 5, 32, 24)).shape
    torch.Size([2, 1, 32, 24])
    """

    def __init__(self, slices: int = 5, width: int = 8) -> None:
        super().__init__()
        self.slices, self.width = slices, width
        w = width
        self.down1 = _block(slices, w, 2)
        self.down2 = _block(w, 2 * w, 2)
        self.down3 = _block(2 * w, 4 * w, 2)
        self.bottom = _block(4 * w, 4 * w, 2)
        self.up3 = _block(8 * w, 2 * w, 1)
        self.up2 = _block(4 * w, w, 1)
        self.up1 = _block(2 * w, w, 1)
        self.head = nn.Conv2d(w, 1, 1)
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.down1(x)
        b = self.down2(self.pool(a))
        c = self.down3(self.pool(b))
        d = self.bottom(self.pool(c))
        u = self.up3(torch.cat([self.upsample(d), c], dim=1))
        u = self.up2(torch.cat([self.upsample(u), b], dim=1))
        u = self.up1(torch.cat([self.upsample(u), a], dim=1))
        return self.head(u)


def state_arrays(net: nn.Module) -> dict[str, np.ndarray]:
    """The network's parameters and buffers as numpy arrays (saved as ``.npz``), by name.

    >>> sorted(state_arrays(NoduleNet(width=4)))[:2]
    ['bottom.0.weight', 'bottom.1.bias']
    """
    return {
        name: value.detach().cpu().numpy().copy()
        for name, value in net.state_dict().items()
        if value.dtype != torch.long  # BatchNorm's step counter: not needed to run
    }


def from_arrays(arrays: dict[str, np.ndarray], slices: int, width: int) -> NoduleNet:
    """A network (in eval mode) holding ``arrays`` (from :func:`state_arrays`).

    >>> net = NoduleNet(width=4)
    >>> again = from_arrays(state_arrays(net), 5, 4)
    >>> bool(torch.equal(again.head.weight, net.head.weight))
    True
    """
    net = NoduleNet(slices=slices, width=width)
    state = {name: torch.from_numpy(np.asarray(value)) for name, value in arrays.items()}
    net.load_state_dict(state, strict=False)
    missing = set(net.state_dict()) - set(state)
    if any(not name.endswith("num_batches_tracked") for name in missing):
        raise ValueError(f"Argument 'arrays' lacks {sorted(missing)[:3]}")
    return net.eval()
