// Shared harness for op tests: build a Layer from a Node, run it on random inputs,
// compare forward with a reference, and check backward against central finite
// differences of L = sum(dst * R) for a fixed random R. Seeds are fixed and printed.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "ops/layer.h"
#include "testing/tolerances.h"

namespace qat::testing {

inline Tensor randomTensor(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    Tensor t(shape);
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = dist(rng);
    return t;
}

// Makes a layer for `node` (parameters must already be in node.params) and prepares it.
inline std::unique_ptr<Layer> prepareLayer(Node& node, const std::vector<Shape>& srcShapes,
                                           uint64_t seed = 1) {
    auto layer = makeLayer(node, seed);
    EXPECT_TRUE(layer.isOk()) << layer.message();
    if (!layer.isOk())
        return nullptr;
    Status st = layer.value()->prepare(srcShapes);
    EXPECT_TRUE(st.isOk()) << st.message();
    return std::move(layer.value());
}

inline Tensor runForward(Layer& layer, const std::vector<Tensor>& src, Phase phase = Phase::Train) {
    std::vector<const Tensor*> ptrs;
    for (auto& t : src)
        ptrs.push_back(&t);
    Tensor dst(layer.dstShape());
    layer.forward(ptrs, dst, phase);
    return dst;
}

// Runs backward of the last forward. diffSrc tensors start as NaN so that a layer which
// accumulates into them instead of overwriting them fails visibly; inputs whose
// needGrad entry is false get a nullptr (returned as an empty Tensor).
inline std::vector<Tensor> runBackward(Layer& layer, const std::vector<Tensor>& src,
                                       const Tensor& dst, const Tensor& diffDst,
                                       const std::vector<bool>& needGrad = {}) {
    std::vector<const Tensor*> srcPtrs;
    for (auto& t : src)
        srcPtrs.push_back(&t);
    std::vector<Tensor> diffSrc;
    std::vector<Tensor*> diffPtrs;
    diffSrc.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
        const bool need = i >= needGrad.size() || needGrad[i];
        diffSrc.push_back(need ? Tensor(src[i].shape(), std::nanf("")) : Tensor());
        diffPtrs.push_back(need ? &diffSrc.back() : nullptr);
    }
    layer.backward(srcPtrs, dst, diffDst, diffPtrs);
    return diffSrc;
}

inline void expectClose(const Tensor& got, const std::vector<double>& ref,
                        double absTol = kForwardAbs, double relTol = kForwardRel) {
    ASSERT_EQ(got.size(), static_cast<int64_t>(ref.size()));
    int bad = 0;
    for (int64_t i = 0; i < got.size(); ++i) {
        double tol = absTol + relTol * std::abs(ref[i]);
        if (!(std::abs(got[i] - ref[i]) <= tol) && bad++ < 5) // NaN counts as a mismatch
            ADD_FAILURE() << "element " << i << ": got " << got[i] << " want " << ref[i];
    }
    EXPECT_EQ(bad, 0) << bad << " elements out of tolerance";
}

// Checks d(sum(dst*R))/d(input i) and d/d(params) against central differences.
// `probes` elements per tensor are checked (spread over the tensor). Elements where the
// op is non-differentiable (ReLU kinks, max ties) are avoided by the caller's choice
// of inputs; `skip` may veto individual input elements.
inline void checkGradients(Node& node, std::vector<Tensor> src, uint32_t seed = 7, int probes = 24,
                           std::function<bool(size_t input, int64_t index)> skip = nullptr) {
    std::vector<Shape> shapes;
    for (auto& t : src)
        shapes.push_back(t.shape());
    auto layer = prepareLayer(node, shapes);
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, src);
    Tensor r = randomTensor(dst.shape(), seed + 1);

    // NaN-filled: backward must overwrite diffSrc, not accumulate into it.
    std::vector<Tensor> diffSrc;
    for (auto& t : src)
        diffSrc.emplace_back(t.shape(), std::nanf(""));
    std::vector<Tensor*> diffPtrs;
    for (auto& t : diffSrc)
        diffPtrs.push_back(&t);
    std::vector<const Tensor*> srcPtrs;
    for (auto& t : src)
        srcPtrs.push_back(&t);
    layer->backward(srcPtrs, dst, r, diffPtrs);
    std::vector<Tensor> paramGrads;
    for (auto& p : layer->params())
        paramGrads.push_back(*p.grad);

    auto loss = [&]() {
        // A fresh layer each time so running statistics etc. do not drift.
        auto l = prepareLayer(node, shapes);
        Tensor out = runForward(*l, src);
        double s = 0;
        for (int64_t i = 0; i < out.size(); ++i)
            s += static_cast<double>(out[i]) * r[i];
        return s;
    };
    auto checkTensor = [&](Tensor& x, const Tensor& analytic, const std::string& what,
                           std::function<bool(int64_t)> veto) {
        int64_t n = x.size();
        int checked = 0;
        for (int k = 0; k < probes && k < n; ++k) {
            int64_t i = (n <= probes) ? k : (k * 7919 + 13) % n;
            if (veto && veto(i))
                continue;
            float orig = x[i];
            x[i] = orig + static_cast<float>(kFiniteDiffStep);
            double lp = loss();
            x[i] = orig - static_cast<float>(kFiniteDiffStep);
            double lm = loss();
            x[i] = orig;
            double numeric = (lp - lm) / (2 * kFiniteDiffStep);
            double tol = kGradAbs + kGradRel * std::abs(numeric);
            EXPECT_NEAR(analytic[i], numeric, tol)
                << what << " element " << i << " (seed " << seed << ")";
            ++checked;
        }
        EXPECT_GT(checked, 0) << what << ": no element checked";
    };
    for (size_t s = 0; s < src.size(); ++s)
        checkTensor(src[s], diffSrc[s], "input " + std::to_string(s),
                    skip ? std::function<bool(int64_t)>([&, s](int64_t i) { return skip(s, i); })
                         : nullptr);
    auto params = layer->params();
    for (size_t p = 0; p < params.size(); ++p) {
        // Perturb the node's parameter tensor itself (layers read node.params).
        std::string key = params[p].name.substr(params[p].name.find('/') + 1);
        checkTensor(node.params.at(key), paramGrads[p], params[p].name, nullptr);
    }
}

} // namespace qat::testing
