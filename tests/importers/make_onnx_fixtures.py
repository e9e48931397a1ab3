#!/usr/bin/python3
"""Writes the ONNX import test fixtures (tests/importers/*.onnx, *_input.npy, *_output.npy).

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/importers/make_onnx_fixtures.py
Each model is small, has fixed random weights (seeded) and BatchNorm statistics far from
identity, is exported by torch.onnx.export at opset 13, and is run by PyTorch itself in
eval mode on a stored input; tests/engine/onnx_import_test.cpp imports the .onnx file and
checks that qat::Network reproduces the stored output. Inputs are NCHW float32 .npy
files (the ONNX layout); outputs are what PyTorch returned, float32.

  plain_cnn      Conv, (Conv+BN fused by the exporter), ReLU, MaxPool, AveragePool,
                 Flatten of an NCHW map (weight columns must be permuted), Gemm,
                 BatchNormalization on [N,F], LeakyRelu, Softmax; fixed batch 1
  dw_separable   3-channel input, Clip(0,6) with min/max inputs, depthwise Conv
                 (groups == Cin), depth multiplier 2, grouped Conv, HardSigmoid*x
                 (= HardSwish at opset 13), Sigmoid, GlobalAveragePool and the
                 Shape->Gather->Unsqueeze->Concat->Reshape chain of x.view(x.size(0), -1)
                 with a dynamic batch
  residual_add   residual blocks with Add, strided 1x1 projection, Pad (ZeroPad2d),
                 AveragePool with count_include_pad=1 and pads, GlobalAveragePool, Flatten
  concat_net     two branches (Tanh) concatenated on channels, BatchNormalization on an
                 NCHW map, MaxPool with pads, AveragePool count_include_pad=0, MatMul+Add,
                 Softmax; dynamic batch
"""
import os

import numpy as np
import torch
from torch import nn

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) * 0.6 - 0.3)
                m.running_mean.copy_(torch.rand(n, generator=gen) * 0.6 - 0.3)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.75 + 0.25)


class PlainCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool2 = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(8 * 7 * 7, 16)
        self.bn3 = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = nn.functional.leaky_relu(self.bn3(self.fc1(x)), 0.1)
        return torch.softmax(self.fc2(self.drop(x)), dim=1)


class DwSeparable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.dw1 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.dw1_bn = nn.BatchNorm2d(8)
        self.pw1 = nn.Conv2d(8, 16, 1)
        self.dw2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=16)
        self.gconv = nn.Conv2d(32, 16, 1, groups=4)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = nn.functional.relu6(self.stem_bn(self.stem(x)))
        x = nn.functional.hardswish(self.dw1_bn(self.dw1(x)))
        x = torch.clamp(self.pw1(x), 0.0, 6.0)
        x = torch.sigmoid(self.dw2(x))
        x = nn.functional.adaptive_avg_pool2d(self.gconv(x), 1)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class ResidualAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.c1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(8)
        self.c3 = nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.c4 = nn.Conv2d(12, 12, 3, padding=1)
        self.proj = nn.Conv2d(8, 12, 1, stride=2)
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))  # left, right, top, bottom
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        x = torch.relu(x + y)
        y = self.c4(torch.relu(self.c3(x)))
        x = torch.relu(self.proj(x) + y)
        x = self.avg(self.pad(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class ConcatNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(1, 4, 5, padding=2)
        self.bn = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(2, stride=2, padding=1, count_include_pad=False)
        self.c = nn.Conv2d(8, 6, 3, stride=2)
        self.w = nn.Parameter(torch.randn(6 * 3 * 3, 10) * 0.2)
        self.bias = nn.Parameter(torch.randn(10) * 0.1)

    def forward(self, x):
        x = torch.cat([torch.relu(self.a(x)), torch.tanh(self.b(x))], dim=1)
        x = torch.relu(self.bn(x))
        x = self.avg(self.maxpool(x))
        x = torch.relu(self.c(x))
        x = torch.flatten(x, 1)
        return torch.softmax(torch.matmul(x, self.w) + self.bias, dim=1)


def export(name, model, input_shape, batch, dynamic, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.rand(p.shape, generator=gen) * 0.6 - 0.3)
    randomize_bn(model, gen)
    model.eval()
    x = torch.rand((batch,) + input_shape, generator=gen)
    with torch.no_grad():
        y = model(x)
    example = x[:1] if not dynamic else x
    path = os.path.join(HERE, name + ".onnx")
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model, example, path, opset_version=OPSET, input_names=["input"],
                      output_names=["output"], do_constant_folding=True, **kwargs)
    np.save(os.path.join(HERE, name + "_input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(HERE, name + "_output.npy"), y.numpy().astype(np.float32))
    print(f"{name}: {os.path.getsize(path)} bytes, input {tuple(x.shape)}, output {tuple(y.shape)}")


def main():
    export("plain_cnn", PlainCnn(), (1, 28, 28), 2, False, 11)
    export("dw_separable", DwSeparable(), (3, 16, 16), 3, True, 12)
    export("residual_add", ResidualAdd(), (1, 28, 28), 2, False, 13)
    export("concat_net", ConcatNet(), (1, 28, 28), 2, True, 14)


if __name__ == "__main__":
    main()
