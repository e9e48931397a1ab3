#!/usr/bin/env python3
"""PyTorch peer for QAT Lab's training benchmarks (Debian python3-torch 1.13).

Trains the same cnn-bn architecture (Conv3x3 32 same + BN + ReLU, MaxPool 2, Conv3x3 64
same + BN + ReLU, MaxPool 2, Flatten, Dense 128 + ReLU, Dense 10) with Adam, batch 64, on
2 threads, in float and in eager-mode QAT (torch.ao.quantization: fused ConvBnReLU2d with
fake-quant, fbgemm qconfig: per-channel symmetric weights, affine activations), and prints
images/second (median of 3 timed windows after warm-up). Data: random tensors shaped like
Fashion-MNIST (the throughput does not depend on pixel values).

  /usr/bin/python3 bench/pytorch_peer.py [--mode both|float|qat] [--steps 200] [--threads 2]

With --mode float or qat, the last line is "RESULT <images/s>" (bench/train_bench --peer
reads it).
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.ao.quantization as tq


class CnnBn(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = self.fc2(self.relu3(self.fc1(x)))
        return self.dequant(x)


def throughput(model, steps, batch):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    model.train()
    run(20)  # warm-up
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        run(steps)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mode", choices=["both", "float", "qat"], default="both")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    if args.mode in ("both", "float"):
        f = throughput(CnnBn(), args.steps, args.batch)
        print(f"pytorch {torch.__version__} float  cnn-bn train: {f:8.0f} img/s "
              f"(batch {args.batch}, {args.threads} threads)")
        if args.mode == "float":
            print(f"RESULT {f:.1f}")
            return

    m = CnnBn()
    m.train()
    m.qconfig = tq.get_default_qat_qconfig("fbgemm")
    tq.fuse_modules_qat(m, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"],
                            ["fc1", "relu3"]], inplace=True)
    tq.prepare_qat(m, inplace=True)
    q = throughput(m, args.steps, args.batch)
    print(f"pytorch {torch.__version__} eager QAT cnn-bn train: {q:8.0f} img/s "
          f"(batch {args.batch}, {args.threads} threads)")
    if args.mode == "qat":
        print(f"RESULT {q:.1f}")


if __name__ == "__main__":
    main()
