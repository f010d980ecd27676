"""A whole model as a graph: trace building against the graph's vectorized forward, and frame access (issue 15).

The model is a small CIFAR-style ResNet: a stem (conv-bn-relu), two stages of two BasicBlocks (the second stage
downsampling, with a conv1x1-bn shortcut), global average pooling and a classifier; one 3x32x32 image.

    python bench/bench_graph.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import layerviz as lv


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, stride=2), BasicBlock(2 * width, 2 * width))
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(x.mean((2, 3)))


def best_of(function, repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``repeat`` runs of ``number`` calls, per call, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)  # on a shared machine, torch's threads would only wait for each other
    torch.manual_seed(0)
    model = ResNet().eval()
    x = torch.rand(1, 3, 32, 32)
    start = time.perf_counter()
    graph = lv.from_torch(model, x)
    convert = time.perf_counter() - start
    xn = x.numpy().astype(np.float64)
    with torch.no_grad():
        torch_forward = best_of(lambda: model(x), number=5)
    forward = best_of(lambda: graph(xn), number=3)
    build = best_of(lambda: graph.frames(xn), repeat=3)
    trace = graph.frames(xn)
    n = len(trace)
    rng = np.random.default_rng(0)
    ks = rng.integers(0, n, 1000)
    access = best_of(lambda: [trace[int(k)] for k in ks], repeat=3) / len(ks)
    last = best_of(lambda: trace[n - 1], number=50)
    g = rng.standard_normal(trace.output.shape)
    backward = best_of(lambda: trace.backward(g), repeat=3)
    btrace = trace.backward(g)
    nb = len(btrace)
    kb = rng.integers(0, nb, 1000)
    baccess = best_of(lambda: [btrace[int(k)] for k in kb], repeat=3) / len(kb)
    layer_nodes = len(trace.names)
    print(f"ResNet (stem + 2x2 BasicBlocks, width 8), one 3x32x32 image: {layer_nodes} layer nodes, {n} frames")
    print(f"  from_torch(model, x)       {convert * 1e3:9.1f} ms   (torch.fx capture, conversion, check against torch)")
    print(f"  torch forward              {torch_forward * 1e3:9.3f} ms")
    print(f"  graph forward (vectorized) {forward * 1e3:9.3f} ms")
    print(f"  frames(x) trace build      {build * 1e3:9.3f} ms   ratio build/forward = {build / forward:.2f}"
          f", build/torch forward = {build / torch_forward:.0f}")
    print(f"  trace[k], random k         {access * 1e3:9.4f} ms   trace[-1] {last * 1e3:.4f} ms")
    print(f"  trace.backward(g) build    {backward * 1e3:9.3f} ms   ratio backward/forward = {backward / forward:.2f}"
          f"   ({nb} frames)")
    print(f"  btrace[k], random k        {baccess * 1e3:9.4f} ms")


if __name__ == "__main__":
    main()
