"""PyTorch quality reference for Continuo's models (issue #12): the Essen study's recipe,
trained and evaluated on a corpus prepared by `trainer prepare`, with the same files, the
same split and the same evaluation as `trainer eval`.

The recipe: one-hot input, nn.LSTM(V, hidden), dropout before the output layer, Adam with
a constant learning rate, gradient clipping at 5, random windows from a zero state (cut at a
random offset from all training songs in a row, shuffled each epoch), early stopping on the
validation split (zero-state windows) after `--patience` epochs without improvement.

The evaluation is `trainer eval`'s: the test songs, in the corpus's order, laid into 64
streams (each starts with `/`, each song goes to the shortest stream), 64-step windows in
time order with the state carried, no dropout. Prints one line of JSON.

    python3 trainer/reference/torch_quality.py --corpus data-out/essen --threads 2

At the default's budget, on its corpus, evaluated on each corpus's test songs:

    python3 trainer/reference/torch_quality.py --corpus data-out/essen-oneills --minutes 10 \
        --test-corpus data-out/essen --test-corpus data-out/oneills
"""
import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from torch import nn


def pitch_folder(vocabulary):
    """A melody pitch outside the vocabulary's range folds by octaves into it (then clamps),
    as `trainer` encodes it (`Vocabulary::nearest`)."""
    pitches = [int(t) for t in vocabulary if t.isdigit()]
    lo, hi = min(pitches), max(pitches)

    def fold(p):
        while p < lo and p + 12 <= hi:
            p += 12
        while p > hi and p - 12 >= lo:
            p -= 12
        return str(min(max(p, lo), hi))
    return fold


def read_corpus(folder, vocabulary=None):
    """The corpus's vocabulary and its songs by split as token ids, in `vocabulary` (another
    corpus's, whose model is evaluated here) when given, else in its own."""
    manifest = json.loads((Path(folder) / "corpus.json").read_text())
    if manifest["encoding"] != "melody":
        raise SystemExit(f"{folder}: this reference reads melody corpora only, not {manifest['encoding']}")
    vocabulary = vocabulary or manifest["vocabulary"]
    vocab = {token: i for i, token in enumerate(vocabulary)}
    fold = pitch_folder(vocabulary)
    splits = {"train": [], "validation": [], "test": []}
    with open(Path(folder) / "songs.jsonl") as f:
        for line in f:
            song = json.loads(line)
            # Every song already ends with `/`.
            splits[song["split"]].append([vocab[t] if t in vocab else vocab[fold(int(t))] for t in song["tokens"]])
    return vocabulary, splits


class Net(nn.Module):
    def __init__(self, vocab, hidden, dropout):
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):  # x: [T, B] token ids
        y, state = self.lstm(nn.functional.one_hot(x, self.vocab).float(), state)
        return self.out(self.drop(y)), state


def random_windows(songs, window, end, rng):
    """Windows of `window` steps from all songs in a row (`/` first), from a random offset."""
    row = [end] + [t for s in songs for t in s]
    offset = rng.randrange(window)
    starts = list(range(offset, len(row) - 1, window))
    rng.shuffle(starts)
    return row, starts


def window_batch(row, starts, window):
    x = torch.full((window, len(starts)), row[0], dtype=torch.long)
    y = torch.full((window, len(starts)), -1, dtype=torch.long)
    for b, s in enumerate(starts):
        n = min(window, len(row) - 1 - s)
        x[:n, b] = torch.tensor(row[s:s + n])
        y[:n, b] = torch.tensor(row[s + 1:s + n + 1])
    return x, y


def streams(songs, count, end):
    """`trainer eval`'s layout: each song goes to the shortest stream, each stream starts with `/`."""
    count = max(1, min(count, len(songs)))
    lanes = [[end] for _ in range(count)]
    for s in songs:
        min(lanes, key=len).extend(s)
    steps = max(len(l) for l in lanes) - 1
    x = torch.full((steps, count), end, dtype=torch.long)
    y = torch.full((steps, count), -1, dtype=torch.long)
    for b, lane in enumerate(lanes):
        x[:len(lane) - 1, b] = torch.tensor(lane[:-1])
        y[:len(lane) - 1, b] = torch.tensor(lane[1:])
    return x, y


def sums(logits, y, hold):
    mask = y >= 0
    if not mask.any():
        return 0.0, 0, 0, 0, 0
    logits, y = logits[mask], y[mask]
    nll = nn.functional.cross_entropy(logits, y, reduction="sum").item()
    right = logits.argmax(-1) == y
    not_hold = y != hold
    return nll, int(mask.sum()), int(right.sum()), int((right & not_hold).sum()), int(not_hold.sum())


@torch.no_grad()
def evaluate_streams(net, songs, end, hold, window=64):
    net.eval()
    x, y = streams(songs, 64, end)
    total = [0.0, 0, 0, 0, 0]
    state = None
    for t in range(0, x.shape[0], window):
        logits, state = net(x[t:t + window], state)
        total = [a + b for a, b in zip(total, sums(logits, y[t:t + window], hold))]
    nll, n, right, right_nh, n_nh = total
    return {"nll_nats": nll / n, "perplexity": math.exp(nll / n), "accuracy": right / n,
            "accuracy_no_hold": right_nh / max(n_nh, 1), "tokens": n, "songs": len(songs)}


@torch.no_grad()
def evaluate_windows(net, songs, end, window, batch):
    net.eval()
    row = [end] + [t for s in songs for t in s]
    starts = list(range(0, len(row) - 1, window))
    nll, n = 0.0, 0
    for i in range(0, len(starts), batch):
        x, y = window_batch(row, starts[i:i + batch], window)
        logits, _ = net(x)
        mask = y >= 0
        nll += nn.functional.cross_entropy(logits[mask], y[mask], reduction="sum").item()
        n += int(mask.sum())
    return nll / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--minutes", type=float, help="a training budget: no epoch starts that would end past it "
                   "(judged by the last epoch's time)")
    p.add_argument("--test-corpus", action="append", default=[],
                   help="evaluate on this corpus's test split instead (repeatable; the pitches are mapped "
                        "into the training corpus's vocabulary)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    vocabulary, splits = read_corpus(a.corpus)
    end, hold = vocabulary.index("/"), vocabulary.index("_")
    net = Net(len(vocabulary), a.hidden, a.dropout)
    best_state, best, since, history = None, float("inf"), 0, []
    optimiser = torch.optim.Adam(net.parameters(), lr=a.lr)
    started = time.time()
    for epoch in range(1, a.max_epochs + 1):
        net.train()
        row, starts = random_windows(splits["train"], a.window, end, rng)
        for i in range(0, len(starts), a.batch):
            x, y = window_batch(row, starts[i:i + a.batch], a.window)
            logits, _ = net(x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocabulary)), y.reshape(-1), ignore_index=-1)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), a.clip)
            optimiser.step()
        validation = evaluate_windows(net, splits["validation"], end, a.window, a.batch)
        history.append({"epoch": epoch, "validation_nll": validation, "seconds": time.time() - started})
        print(json.dumps(history[-1]), flush=True)
        if validation < best - 1e-4:
            best, since = validation, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            since += 1
            if since >= a.patience:
                break
        if a.minutes is not None:
            last = history[-1]["seconds"] - (history[-2]["seconds"] if len(history) > 1 else 0.0)
            if history[-1]["seconds"] + last > a.minutes * 60:
                break
    train_seconds = round(time.time() - started)
    net.load_state_dict(best_state)
    for test in a.test_corpus or [a.corpus]:
        songs = splits["test"] if test == a.corpus else read_corpus(test, vocabulary)[1]["test"]
        report = evaluate_streams(net, songs, end, hold)
        report.update({"reference": "torch_quality.py", "corpus": a.corpus, "test_corpus": test,
                       "epochs": len(history),
                       "best_epoch": min(history, key=lambda h: h["validation_nll"])["epoch"],
                       "best_validation_nll": best, "train_seconds": train_seconds,
                       "threads": a.threads, "torch": torch.__version__})
        print(json.dumps(report))


if __name__ == "__main__":
    main()
