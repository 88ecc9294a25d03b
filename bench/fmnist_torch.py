"""What the PyTorch peer benchmarks share: Fashion-MNIST from IDX files, the two LeNets, evaluation.

Imported by bench/pytorch_train.py and bench/pytorch_prune.py (run them with /usr/bin/python3, which has
Debian's python3-torch; they set the thread count before this module imports torch).
"""
import gzip
import os

import numpy as np
import torch
from torch import nn

EVAL_BATCH = 1000


def read_idx(path):
    """An IDX gz file as a numpy array: big-endian header (magic, dims), then unsigned bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = np.frombuffer(raw, ">u4", ndim, 4).astype(int)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(data_dir, split):
    """Images as float32 [N,1,28,28] in [0,1] and labels as int64."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    return (images.astype(np.float32) / 255).reshape(-1, 1, 28, 28), labels.astype(np.int64)


def build(name):
    """lenet300 is an MLP; lenet5 is Caffe's LeNet (no activation after the convolutions). Default init."""
    if name == "lenet300":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 300), nn.ReLU(),
            nn.Linear(300, 100), nn.ReLU(),
            nn.Linear(100, 10))
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(800, 500), nn.ReLU(),
        nn.Linear(500, 10))


@torch.no_grad()
def evaluate(model, images, labels):
    """Fraction of the test set classified correctly, in batches of 1000."""
    model.eval()
    correct = 0
    for start in range(0, len(labels), EVAL_BATCH):
        x = torch.from_numpy(images[start:start + EVAL_BATCH])
        y = torch.from_numpy(labels[start:start + EVAL_BATCH])
        correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(labels)
