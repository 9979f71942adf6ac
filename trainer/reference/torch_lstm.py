"""PyTorch reference for Continuo's training speed (issue #4): nn.Embedding + nn.LSTM +
nn.Linear with the shapes, batch and window of a `trainer train` preset; truncated BPTT with
the state carried between windows, dropout, optional batch norm before the output, softmax
cross-entropy, gradient clipping at 1.0 and Adam -- the work `trainer train` does per window.
Token ids are random (speed does not depend on them). Prints one line of JSON.

    python3 trainer/reference/torch_lstm.py --vocab 48 --embed 64 --hidden 256 --layers 2 \
        --dropout 0.2 --batch 64 --window 64 --windows 20 --threads 2

`cargo xtask perf` runs it beside `trainer train --benchmark` for every preset.
"""
import argparse
import json
import time

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout, batch_norm):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        # Dropout on the top LSTM output only, as `trainer train` does (not on the embedding,
        # not between layers).
        self.lstm = nn.LSTM(embed, hidden, layers)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.BatchNorm1d(hidden) if batch_norm else None
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        y, state = self.lstm(self.embed(x), state)  # x: [T, B], time first
        y = self.drop(y).reshape(-1, y.shape[-1])
        if self.norm is not None:
            y = self.norm(y)
        return self.out(y), state


def main():
    p = argparse.ArgumentParser()
    for name, default in [("vocab", 48), ("embed", 64), ("hidden", 256), ("layers", 2), ("batch", 64),
                          ("window", 64), ("windows", 20), ("warmup", 2), ("threads", 2)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-norm", action="store_true")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = Net(a.vocab, a.embed, a.hidden, a.layers, a.dropout, a.batch_norm)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    data = torch.randint(0, a.vocab, ((a.warmup + a.windows) * a.window + 1, a.batch))
    state = None
    tokens = 0
    for k in range(a.warmup + a.windows):
        if k == a.warmup:
            started = time.perf_counter()
            tokens = 0
        x = data[k * a.window:(k + 1) * a.window]
        y = data[k * a.window + 1:(k + 1) * a.window + 1]
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = net(x, state)
        loss = loss_fn(logits, y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        tokens += x.numel()
    seconds = time.perf_counter() - started
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "tokens": tokens,
                      "seconds": seconds, "tokens_per_second": tokens / seconds}))


if __name__ == "__main__":
    main()
