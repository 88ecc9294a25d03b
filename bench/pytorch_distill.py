# Run: /usr/bin/python3 bench/pytorch_distill.py --seeds 0 1 2   (Debian's python3-torch 1.13 and python3-onnx)
"""Peer benchmark: knowledge distillation on full Fashion-MNIST with plain PyTorch.

The two jobs of bench/distill.sh, on the same trained teachers (read from the ONNX files of
bench/train_accuracy.sh), each over --seeds:
1. lenet300 trained alone from scratch against lenet300 distilled from the trained vgg-small, as
   `shrink train` and `shrink distill` do: torch.manual_seed(seed) before build (default init) and again
   before training, --epochs epochs of SGD lr 0.05 momentum 0.9 with per-step cosine annealing to 0,
   batch 128, a fresh torch.randperm order per epoch.
2. The trained lenet5 cut to 90 % sparsity (global L1 magnitude over all Conv/Linear weights, no biases,
   one shot, torch.nn.utils.prune) and fine-tuned --ft-epochs epochs at lr 0.01 (same optimizer and
   schedule, torch.manual_seed(seed) first), once with the labels alone and once distilling from the dense
   lenet5, as `shrink prune ... --finetune-epochs F --lr 0.01 [--teacher lenet5.onnx]` does. The prune
   hooks keep the masks in every forward pass, so the pruned weights stay zero while fine-tuning.
The distillation loss is Shrink's (Hinton et al. 2015): α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)), summed
over the classes and averaged over the batch, plus (1 − α)·CE(z_s, y), with --temperature T and --alpha α (the same as the Shrink side). The teacher is
frozen and in eval mode; its logits are computed once for the whole training set (there is no
augmentation, so they do not change between epochs) and read by row, as Shrink's logit cache does.
Test accuracy is on the 10,000 Fashion-MNIST test images; 2 intra-op threads by default. Progress and
the human summary go to stderr, one JSON line per job to stdout.
"""
import argparse
import os
import sys

# Parse first: the thread count must be in the environment before torch (and its BLAS) is imported.
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--trained", default="out/train-accuracy")
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--epochs", type=int, default=10, help="epochs of job 1 (lenet300 from scratch)")
parser.add_argument("--ft-epochs", type=int, default=3, help="fine-tuning epochs of job 2 (lenet5 at 90 %% sparsity)")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--temperature", type=float, default=4.0)
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # first N training images (smoke tests)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import json
import statistics

import torch
from torch import nn

from fmnist_torch import EVAL_BATCH, build, evaluate, fine_tune, load, load_trained
from torch.nn.utils import prune

TEMPERATURE = args.temperature
ALPHA = args.alpha
SPARSITY = 0.9
LR_SCRATCH = 0.05  # job 1, as distill.sh's `shrink train` / `shrink distill`
LR_FINETUNE = 0.01  # job 2, as distill.sh's `shrink prune --lr 0.01`


@torch.no_grad()
def teacher_logits(teacher, images):
    """The frozen teacher's logits for every training image, in order, in eval mode (batches of 1000)."""
    teacher.eval()
    return torch.cat([teacher(torch.from_numpy(images[start:start + EVAL_BATCH]))
                      for start in range(0, len(images), EVAL_BATCH)])


def kd_loss(cache):
    """The loss_fn of fine_tune for distillation from the cached teacher logits: α·T²·KL(softmax(z_t/T) ‖
    softmax(z_s/T)) with reduction batchmean (sum over classes, mean over the batch) + (1 − α)·CE(z_s, y)."""
    def loss_fn(logits, y, index):
        log_p = nn.functional.log_softmax(logits / TEMPERATURE, 1)
        log_q = nn.functional.log_softmax(cache[torch.from_numpy(index)] / TEMPERATURE, 1)
        kl = nn.functional.kl_div(log_p, log_q, reduction="batchmean", log_target=True)
        return ALPHA * TEMPERATURE ** 2 * kl + (1 - ALPHA) * nn.functional.cross_entropy(logits, y)
    return loss_fn


def weights(model):
    """The (module, "weight") pairs pruned: every Conv2d/Linear weight, no biases (as bench/pytorch_prune.py)."""
    return [(m, "weight") for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]


def sparsity(model):
    """The fraction of zeros in the effective weights (weight_orig * mask once pruned)."""
    tensors = [getattr(m, n) for m, n in weights(model)]
    return sum((t == 0).sum().item() for t in tensors) / sum(t.numel() for t in tensors)


def mean(values):
    return round(statistics.mean(values), 4)


def scratch(seed, train_x, train_y, test_x, test_y, label, loss_fn=None):
    """lenet300 from its seeded default init, trained for --epochs; returns its test accuracy."""
    torch.manual_seed(seed)
    model = build("lenet300")
    torch.manual_seed(seed)
    fine_tune(model, train_x, train_y, args.epochs, LR_SCRATCH, label, loss_fn=loss_fn)
    return evaluate(model, test_x, test_y)


def sparse(seed, path, train_x, train_y, test_x, test_y, label, loss_fn=None):
    """The trained lenet5 pruned to 90 % in one shot, then fine-tuned for --ft-epochs; returns its test
    accuracy and the sparsity it ends with (0.9 if the masks held)."""
    model = load_trained("lenet5", path)
    prune.global_unstructured(weights(model), pruning_method=prune.L1Unstructured, amount=SPARSITY)
    torch.manual_seed(seed)
    fine_tune(model, train_x, train_y, args.ft_epochs, LR_FINETUNE, label, loss_fn=loss_fn)
    return evaluate(model, test_x, test_y), sparsity(model)


def main():
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    print(f"train: {train_x.shape}, test: {test_x.shape}, torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    summary = []

    # 1. lenet300: alone against distilled from the trained vgg-small.
    teacher = load_trained("vgg-small", os.path.join(args.trained, "vgg-small.onnx"))
    teacher_accuracy = evaluate(teacher, test_x, test_y)
    cache = teacher_logits(teacher, train_x)
    print(f"teacher vgg-small: {teacher_accuracy:.4f}; logits cached for {len(cache):,} training images", file=sys.stderr)
    alone, distilled = [], []
    for seed in args.seeds:
        alone.append(scratch(seed, train_x, train_y, test_x, test_y, f"lenet300 alone seed {seed}"))
        distilled.append(scratch(seed, train_x, train_y, test_x, test_y, f"lenet300 distilled seed {seed}", kd_loss(cache)))
        summary.append(f"pytorch lenet300 seed {seed}: alone {alone[-1]:.4f}, distilled {distilled[-1]:.4f}")
        print(summary[-1], file=sys.stderr)
    summary.append(f"pytorch lenet300 mean: alone {mean(alone):.4f}, distilled {mean(distilled):.4f}")
    print(json.dumps({
        "engine": "pytorch", "job": "lenet300-distill", "teacher": "vgg-small", "teacher_accuracy": round(teacher_accuracy, 4),
        "epochs": args.epochs, "lr": LR_SCRATCH, "temperature": TEMPERATURE, "alpha": ALPHA, "seeds": args.seeds,
        "alone": [round(a, 4) for a in alone], "distilled": [round(a, 4) for a in distilled],
        "alone_mean": mean(alone), "distilled_mean": mean(distilled)}, separators=(",", ":")), flush=True)

    # 2. lenet5 at 90 % sparsity: recovered with the labels against distillation from the dense lenet5.
    path = os.path.join(args.trained, "lenet5.onnx")
    teacher = load_trained("lenet5", path)
    dense = evaluate(teacher, test_x, test_y)
    cache = teacher_logits(teacher, train_x)
    model = load_trained("lenet5", path)
    prune.global_unstructured(weights(model), pruning_method=prune.L1Unstructured, amount=SPARSITY)
    oneshot = evaluate(model, test_x, test_y)
    print(f"lenet5 dense: {dense:.4f}; one-shot at {sparsity(model):.4f} sparsity: {oneshot:.4f}", file=sys.stderr)
    labels, distilled, sparsities = [], [], []
    for seed in args.seeds:
        accuracy, s = sparse(seed, path, train_x, train_y, test_x, test_y, f"lenet5 90% labels seed {seed}")
        labels.append(accuracy)
        sparsities.append(s)
        accuracy, s = sparse(seed, path, train_x, train_y, test_x, test_y, f"lenet5 90% distilled seed {seed}", kd_loss(cache))
        distilled.append(accuracy)
        sparsities.append(s)
        summary.append(f"pytorch lenet5 90% seed {seed}: labels {labels[-1]:.4f}, distilled {distilled[-1]:.4f}")
        print(summary[-1], file=sys.stderr)
    summary.append(f"pytorch lenet5 90% mean: labels {mean(labels):.4f}, distilled {mean(distilled):.4f}")
    print(json.dumps({
        "engine": "pytorch", "job": "lenet5-sparse-distill", "teacher": "lenet5", "dense_accuracy": round(dense, 4),
        "sparsity": SPARSITY, "oneshot_accuracy": round(oneshot, 4), "ft_epochs": args.ft_epochs, "lr": LR_FINETUNE,
        "temperature": TEMPERATURE, "alpha": ALPHA, "seeds": args.seeds,
        "labels": [round(a, 4) for a in labels], "distilled": [round(a, 4) for a in distilled],
        "labels_mean": mean(labels), "distilled_mean": mean(distilled),
        "final_sparsity_min": round(min(sparsities), 4)}, separators=(",", ":")), flush=True)

    # The human summary, all seeds together, after the progress lines.
    for line in summary:
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
