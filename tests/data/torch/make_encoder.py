"""Export a BERT-style text encoder, written the way Hugging Face's BertModel is, for the transformer pruning tests and bench.

Separate query/key/value nn.Linear layers, x.view(B, S, H, d).permute(0, 2, 1, 3), matmul / sqrt(d), an additive
attention mask made from the `attention_mask` input ((1 - mask) * -10000), softmax, context permute + view to
[B, S, E], output dense + residual + LayerNorm, feed-forward dense -> GELU (erf) -> dense + residual + LayerNorm.
Embeddings: word + position, LayerNorm. Inputs `input_ids` and `attention_mask` (int64, [batch, sequence]), output
`last_hidden_state` ([batch, sequence, hidden]); batch and sequence axes are dynamic. torch.onnx.export with opset 14
and its defaults otherwise (eval mode, constant folding). Seeded: the same arguments write the same bytes.

With --out PATH.onnx it also writes PATH.npz (input_ids and attention_mask of a reference run: batch 2, sequence 12,
the second sample padded after 8 tokens) and PATH.output.npy (PyTorch's output on it), unless --no-reference.

The checked-in test model (from the repository root):

    /usr/bin/python3 tests/data/torch/make_encoder.py --layers 2 --hidden 64 --heads 4 --ffn 128 --vocab 100 \
        --max-positions 32 --out tests/data/torch/encoder_small.onnx

bench/prune_transformer.sh generates a larger one into its run directory (never checked in).
Requires Debian's python3-torch (1.13), python3-onnx, numpy.
"""
import argparse
import math

import numpy as np
import onnx
import torch
import torch.nn as nn

torch.set_num_threads(2)


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.all_head_size = heads * self.attention_head_size
        self.query = nn.Linear(hidden, self.all_head_size)
        self.key = nn.Linear(hidden, self.all_head_size)
        self.value = nn.Linear(hidden, self.all_head_size)

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        return x.view(new_x_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states, attention_mask):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(query_layer, key_layer.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + attention_mask
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, value_layer).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (self.all_head_size,))


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attention = SelfAttention(hidden, heads)
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, mask):
        x = self.attention_norm(self.attention_output(self.attention(x, mask)) + x)
        return self.output_norm(self.output(nn.functional.gelu(self.intermediate(x))) + x)


class Encoder(nn.Module):
    def __init__(self, layers, hidden, heads, ffn, vocab, max_positions):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.embeddings_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([Layer(hidden, heads, ffn) for _ in range(layers)])

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.size(1), dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = self.embeddings_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions))
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask)
        return x


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=128)
    p.add_argument("--vocab", type=int, default=100)
    p.add_argument("--max-positions", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--no-reference", action="store_true", help="write only the model")
    a = p.parse_args()
    if a.hidden % a.heads:
        p.error(f"--hidden {a.hidden} is not a multiple of --heads {a.heads}")
    torch.manual_seed(a.seed)
    model = Encoder(a.layers, a.hidden, a.heads, a.ffn, a.vocab, a.max_positions).eval()
    gen = torch.Generator().manual_seed(a.seed + 1)
    seq = min(12, a.max_positions)
    ids = torch.randint(0, a.vocab, (2, seq), generator=gen)
    mask = torch.ones(2, seq, dtype=torch.long)
    mask[1, seq * 2 // 3:] = 0
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(model, (ids, mask), a.out, opset_version=14, input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
    onnx.checker.check_model(onnx.load(a.out))
    if not a.no_reference:
        with torch.no_grad():
            y = model(ids, mask).numpy()
        stem = a.out[:-5] if a.out.endswith(".onnx") else a.out
        np.savez(stem + ".npz", input_ids=ids.numpy(), attention_mask=mask.numpy())
        np.save(stem + ".output.npy", y)
    ops = sorted({n.op_type for n in onnx.load(a.out).graph.node})
    params = sum(p.numel() for p in model.parameters())
    print(f"{a.out}: {a.layers} layers, hidden {a.hidden}, {a.heads} heads, ffn {a.ffn}, vocab {a.vocab}: {params:,} parameters; ops {', '.join(ops)}")


if __name__ == "__main__":
    main()
