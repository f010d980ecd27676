"""Train the tiny digit CNN that notebooks/cnn.ipynb steps through, and save its weights.

    python scripts/train_digit_cnn.py            # writes layerviz/weights/digit_cnn.npz

The model (see :func:`layerviz.toy.digit_cnn`): Conv2d(1, 4, 3) -> ReLU -> MaxPool2d(2) -> Flatten ->
Linear(100, 10) -> Softmax on 12x12 digits from :func:`layerviz.data.digit`. The training images are
those digits shifted by up to one pixel, dimmed or brightened, with a little noise, so the network
learns the shapes rather than single pixels. torch is used here only; loading needs numpy alone.
"""

from __future__ import annotations

import pathlib

import numpy as np
import torch

from layerviz import data

OUT = pathlib.Path(__file__).resolve().parents[1] / "layerviz" / "weights" / "digit_cnn.npz"
SIZE = 12


def training_set(rng: np.random.Generator, per_digit: int = 300) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for d in range(10):
        base = data.digit(d, SIZE)[0]
        for _ in range(per_digit):
            dy, dx = rng.integers(-1, 2, size=2)
            img = np.roll(base, (dy, dx), axis=(0, 1)) * rng.uniform(0.7, 1.2)
            images.append(img + rng.normal(0, 0.08, img.shape))
            labels.append(d)
    return np.asarray(images)[:, None], np.asarray(labels)


def main() -> None:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    x, y = training_set(rng)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(4 * 5 * 5, 10),
    ).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(60):
        order = torch.from_numpy(rng.permutation(len(x)))
        for start in range(0, len(x), 100):
            idx = order[start : start + 100]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        clean = torch.from_numpy(np.stack([data.digit(d, SIZE) for d in range(10)]))
        predicted = model(clean).argmax(1).numpy()
        accuracy = (model(xt).argmax(1) == yt).double().mean().item()
    print(f"training accuracy {accuracy:.3f}; clean digits predicted as {predicted.tolist()}")
    conv, linear = model[0], model[4]
    np.savez_compressed(OUT, conv_weight=conv.weight.detach().numpy().astype(np.float32),
                        conv_bias=conv.bias.detach().numpy().astype(np.float32),
                        linear_weight=linear.weight.detach().numpy().astype(np.float32),
                        linear_bias=linear.bias.detach().numpy().astype(np.float32))
    print(f"saved {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
