// See int_params.h.
#include "int8/int_params.h"

#include <algorithm>
#include <cmath>

namespace qat::int8 {

void setActivationClamp(IntOp& op, const IntTensor& out, OpType act) {
    const QuantParams p = out.params();
    auto q = [&](double v) {
        return p.zeroPoint + static_cast<int32_t>(std::round(v / static_cast<double>(p.scale)));
    };
    op.actMin = p.qmin;
    op.actMax = p.qmax;
    op.activation = FusedActivation::None;
    if (act == OpType::ReLU) {
        op.activation = FusedActivation::Relu;
        op.actMin = std::max(p.qmin, q(0.0));
    } else if (act == OpType::ReLU6) {
        op.activation = FusedActivation::Relu6;
        op.actMin = std::max(p.qmin, q(0.0));
        op.actMax = std::min(p.qmax, q(6.0));
    }
}

void setAddParams(IntOp& op, float s1, float s2, float sOut, int bits) {
    op.leftShift = bits > 8 ? 15 : 20;
    const double twiceMax = 2.0 * static_cast<double>(std::max(s1, s2));
    quantizeMultiplier(s1 / twiceMax, op.inputMultiplier[0], op.inputShift[0]);
    quantizeMultiplier(s2 / twiceMax, op.inputMultiplier[1], op.inputShift[1]);
    op.multiplier.assign(1, 0);
    op.shift.assign(1, 0);
    quantizeMultiplier(twiceMax / (static_cast<double>(1LL << op.leftShift) * sOut),
                       op.multiplier[0], op.shift[0]);
}

void setConvMultipliers(IntOp& op, double inScale, const std::vector<float>& weightScales,
                        int64_t channels, double outScale) {
    op.multiplier.clear();
    op.shift.clear();
    const int64_t n = weightScales.size() > 1 ? channels : 1;
    for (int64_t c = 0; c < n; ++c) {
        int32_t m;
        int s;
        quantizeMultiplier(inScale * weightScales[static_cast<size_t>(c)] / outScale, m, s);
        op.multiplier.push_back(m);
        op.shift.push_back(s);
    }
}

double activationFunction(OpType t, double x, double alpha) {
    switch (t) {
    case OpType::ReLU:
        return std::max(0.0, x);
    case OpType::ReLU6:
        return std::min(6.0, std::max(0.0, x));
    case OpType::LeakyReLU:
        return x >= 0 ? x : alpha * x;
    case OpType::HardSwish:
        return x * std::min(6.0, std::max(0.0, x + 3.0)) / 6.0;
    case OpType::Sigmoid:
        return 1.0 / (1.0 + std::exp(-x));
    case OpType::Tanh:
        return std::tanh(x);
    default:
        return x;
    }
}

void setLut(IntOp& op, const IntTensor& in, const IntTensor& out, OpType activation, double alpha) {
    const QuantParams ip = in.params();
    const QuantParams opp = out.params();
    op.kind = IntOpKind::Lut;
    op.floatActivation = activation;
    op.leakyAlpha = alpha;
    op.table.clear();
    for (int32_t q = in.qmin; q <= in.qmax; ++q) {
        const double x = static_cast<double>(ip.scale) * (q - ip.zeroPoint);
        const double y = activationFunction(activation, x, alpha);
        const double r = std::round(y / static_cast<double>(opp.scale)) + opp.zeroPoint;
        op.table.push_back(static_cast<int32_t>(
            std::clamp(r, static_cast<double>(opp.qmin), static_cast<double>(opp.qmax))));
    }
}

} // namespace qat::int8
