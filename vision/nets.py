"""Networks our own training builds, split into `body` (the Grad-CAM feature map) and `head`.

Architectures: "tiny" (three conv blocks; MedMNIST 28-64 px and tests), "resnet18" and
"densenet121" (torchvision, randomly initialised: ImageNet weights cannot be downloaded here).
"""

from __future__ import annotations

import torch
from torch import nn

ARCHS = ("tiny", "resnet18", "densenet121")


class SplitNet(nn.Module):
    """`forward(x) = head(body(x))`; `body` ends at the layer Grad-CAM explains."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The globally pooled feature vector."""
        return torch.relu(self.body(x)).mean(dim=(2, 3))


def _pool_linear(features: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(features, outputs))


def _tiny(channels: int) -> tuple[nn.Module, int]:
    layers: list[nn.Module] = []
    cin = channels
    for cout in (16, 32, 64):
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    layers += [nn.Conv2d(cin, 64, 3, padding=1)]
    return nn.Sequential(*layers), 64


def build_net(arch: str, outputs: int, channels: int = 1) -> SplitNet:
    """A randomly initialised network with `outputs` logits.

    Raises:
        ValueError: unknown architecture.
    """
    if arch == "tiny":
        body, width = _tiny(channels)
    elif arch == "resnet18":
        import torchvision

        net = torchvision.models.resnet18(weights=None)
        net.conv1 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
        body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
        width = 512
    elif arch == "densenet121":
        import torchvision

        net = torchvision.models.densenet121(weights=None)
        net.features.conv0 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
        body, width = net.features, 1024
    else:
        raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHS)}")
    return SplitNet(body, _pool_linear(width, outputs))
