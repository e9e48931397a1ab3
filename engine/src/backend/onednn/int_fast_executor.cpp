// Fast integer executor on oneDNN (qat/int_fast.h). create() validates every op once,
// allocates one buffer per activation tensor for the fixed batch (RESHAPE outputs alias
// their input; NHWC throughout, so no reorders between ops), and builds one step per op:
//   small DEPTHWISE_CONV_2D, CONV_2D with few input channels (first layers) and
//     FULLY_CONNECTED at small batch: the direct kernels of int_direct_kernels.h,
//     bit-exact with the reference, when their size and exactness checks pass;
//     otherwise:
//   CONV_2D, DEPTHWISE_CONV_2D (groups = C): oneDNN int8 convolution on s8 src with a
//     runtime src zero point (the kernel compensates sum(w) * zpIn, padding included),
//     s8 weights reordered once to the kernel's layout, s32 bias, and
//       dst = sat_s8(rne(clip(M_c * (acc_c + bias_c) + zpOut, actMin, actMax)))
//     with per-channel output scales M_c = multiplier_c * 2^(shift_c - 31) and post-ops
//     linear(+zpOut), clip(actMin, actMax);
//   FULLY_CONNECTED: oneDNN int8 inner product (no src zero points in 2.6): the zero
//     point folds exactly into the bias, bias_c - zpIn * sum_k w[c,k]; same output stage;
//   MAX_POOL_2D: oneDNN pooling (float, and int8 without AVX-512), exact;
//   float CONV/DEPTHWISE/FULLY_CONNECTED: oneDNN fp32 primitives with ReLU/ReLU6 fused;
//   everything else: loops with the reference's arithmetic (int_fast_kernels.h).
// Agreement with IntReferenceExecutor (Rounding::Single): oneDNN's f32 output stage
// rounds half to even once where the reference rounds acc * Q31 multiplier half up, so
// the conv and FC outputs oneDNN computes differ by 1 LSB on near-ties only; every other
// integer op, the direct kernels included, is bit-exact.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>

#include "backend/onednn/context.h"
#include "backend/onednn/int_direct_kernels.h"
#include "backend/onednn/int_fast_kernels.h"
#include "qat/int_fast.h"

namespace qat {

namespace onednn {

namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using DataType = memory::data_type;

class Step {
public:
    virtual ~Step() = default;
    virtual void run(dnnl::stream& s) = 0;
};

// A primitive bound once to the executor's buffers (the args never change).
struct PrimitiveStep final : Step {
    dnnl::primitive primitive;
    Args args;
    void run(dnnl::stream& s) override { primitive.execute(s, args); }
};

class LoopStep final : public Step {
public:
    explicit LoopStep(std::function<void()> fn) : m_fn(std::move(fn)) {}
    void run(dnnl::stream& s) override {
        s.wait(); // the loop reads what the previous primitive wrote
        m_fn();
    }

private:
    std::function<void()> m_fn;
};

// A direct convolution kernel between the executor's buffers.
class DirectConvStep final : public Step {
public:
    DirectConvStep(std::unique_ptr<intk::DirectConv> conv, const int8_t* src, int8_t* dst)
        : m_conv(std::move(conv)), m_src(src), m_dst(dst) {}
    void run(dnnl::stream& s) override {
        s.wait(); // reads what the previous primitive wrote
        m_conv->run(m_src, m_dst);
    }

private:
    std::unique_ptr<intk::DirectConv> m_conv;
    const int8_t* m_src;
    int8_t* m_dst;
};

std::string describeOp(const IntModel& model, size_t i) {
    const IntOp& op = model.ops[i];
    return "op " + std::to_string(i) + " " + intOpKindName(op.kind) + " '" + op.node + "'";
}

// What runs an op of this kind unless a direct kernel takes it (addConv).
const char* kernelName(IntOpKind kind) {
    switch (kind) {
    case IntOpKind::Conv2D:
    case IntOpKind::DepthwiseConv2D:
        return "oneDNN int8 convolution";
    case IntOpKind::FullyConnected:
        return "oneDNN int8 inner product";
    case IntOpKind::FloatConv2D:
    case IntOpKind::FloatDepthwiseConv2D:
        return "oneDNN fp32 convolution";
    case IntOpKind::FloatFullyConnected:
        return "oneDNN fp32 inner product";
    case IntOpKind::MaxPool:
        return intk::directKernelsAvailable() ? "direct max pool (AVX-512)" : "oneDNN pooling";
    case IntOpKind::FloatMaxPool:
        return "oneDNN fp32 pooling";
    case IntOpKind::Reshape:
        return "alias (no copy)";
    default:
        return "loop";
    }
}

bool isInt8(const IntTensor& t) {
    return t.type == IntDType::Int8 && t.qmin >= -128 && t.qmax <= 127;
}

// One activation tensor's buffer for the whole batch.
struct Buffer {
    void* data = nullptr;
    bool isFloat = false;
    int64_t elems = 0; // batch * per-sample size
};

class OneDnnIntExecutor final : public IntFastExecutor {
public:
    explicit OneDnnIntExecutor(int64_t batch) : m_batch(batch) {}

    // Validates the model and creates every step; the model is not referenced afterwards.
    Status build(const IntModel& model);

    const Tensor& run(const Tensor& input) override;
    const std::vector<int32_t>& lastIntOutput() const override { return m_intOut; }
    int64_t batch() const override { return m_batch; }
    const std::vector<std::string>& opKernels() const override { return m_kernels; }
    void setProfiling(bool on) override {
        m_profiling = on;
        m_opMicros.assign(m_kernels.size(), 0.0);
        m_profiledRuns = 0;
    }
    std::vector<double> opMicros() const override {
        std::vector<double> mean = m_opMicros;
        for (double& v : mean)
            v /= static_cast<double>(std::max<int64_t>(m_profiledRuns, 1));
        return mean;
    }

private:
    Status validate(size_t i) const;
    Status addOp(size_t i);
    Status addConv(size_t i);
    // A direct kernel (int_direct_kernels.h) as op i's step.
    void addDirect(size_t i, std::unique_ptr<intk::DirectConv> direct);
    Status addFullyConnected(size_t i);
    // An int8 inner product over `rows` rows of k values (FULLY_CONNECTED, or a 1x1
    // stride-1 CONV_2D without padding over rows = batch * H * W pixels), with the bias
    // foldedBias gave.
    void addInnerProduct(size_t i, int64_t rows, int64_t k, const std::vector<int32_t>& bias);
    // Op i's int32 bias with the input zero point folded in (weights [Cout, k]); nullopt
    // when a channel overflows int32.
    std::optional<std::vector<int32_t>> foldedBias(size_t i, int64_t k) const;
    Status addFloatConv(size_t i);
    Status addFloatFullyConnected(size_t i);
    Status addMaxPool(size_t i);
    Status addLoop(size_t i);

    const IntTensor& tensor(int index) const {
        return m_model->tensors[static_cast<size_t>(index)];
    }
    Buffer& buffer(int index) { return m_buffers[static_cast<size_t>(index)]; }
    void allocate(int index);
    // Binds an activation buffer to a primitive argument that wants `wanted`; when that
    // is not the buffer's plain layout, a reorder step goes before (input) or after
    // (output) the primitive's step.
    memory bindActivation(const memory::desc& plain, void* data, const memory::desc& wanted,
                          bool input, std::vector<std::unique_ptr<Step>>& after);
    void addPrimitive(const dnnl::primitive_desc_base& pd, dnnl::primitive primitive, Args args,
                      std::vector<std::unique_ptr<Step>> after);
    // Adds a convolution or inner product `pd` describes, reading op.inputs[0] and writing
    // op.outputs[0], with the weights (laid out as userW) reordered once to pd's layout,
    // the bias copied, and `extra` arguments (zero points) passed along.
    void addWeighted(const IntOp& op, const dnnl::primitive_desc_base& pd,
                     dnnl::primitive primitive, const memory::desc& srcMd,
                     const memory::desc& dstMd, const memory::desc& userW, const void* weights,
                     const memory::desc& biasMd, const void* bias, Args extra = {});

    Status buildSteps();

    const IntModel* m_model = nullptr; // set during build() only

    int64_t m_batch;
    std::vector<AlignedBuffer> m_storage;
    std::vector<Buffer> m_buffers; // per model tensor
    std::vector<std::unique_ptr<Step>> m_steps;
    SharedScratchpad m_scratchpad;

    Buffer m_in, m_outBuf;
    bool m_inputInt = false, m_outputInt = false;
    QuantParams m_inParams;
    std::vector<float> m_outTable; // dequantization of the int8 output
    Tensor m_out;
    std::vector<int32_t> m_intOut;
    std::vector<std::string> m_kernels; // per op
    std::vector<size_t> m_stepOp;       // per step: the op it belongs to
    bool m_profiling = false;
    std::vector<double> m_opMicros; // per op, summed over m_profiledRuns
    int64_t m_profiledRuns = 0;
};

void OneDnnIntExecutor::allocate(int index) {
    const IntTensor& t = tensor(index);
    Buffer& b = buffer(index);
    b.isFloat = t.type == IntDType::Float32;
    b.elems = m_batch * shapeSize(t.shape);
    m_storage.emplace_back();
    m_storage.back().resize(static_cast<size_t>(std::max<int64_t>(b.elems, 1)) *
                            (b.isFloat ? sizeof(float) : sizeof(int8_t)));
    b.data = m_storage.back().data();
}

memory OneDnnIntExecutor::bindActivation(const memory::desc& plain, void* data,
                                         const memory::desc& wanted, bool input,
                                         std::vector<std::unique_ptr<Step>>& after) {
    memory user(plain, cpuEngine(), data);
    if (wanted == plain)
        return user;
    memory inner(wanted, cpuEngine());
    auto step = std::make_unique<PrimitiveStep>();
    if (input) {
        step->primitive = dnnl::reorder(user, inner);
        step->args = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}};
        m_steps.push_back(std::move(step));
    } else {
        step->primitive = dnnl::reorder(inner, user);
        step->args = {{DNNL_ARG_FROM, inner}, {DNNL_ARG_TO, user}};
        after.push_back(std::move(step));
    }
    return inner;
}

void OneDnnIntExecutor::addPrimitive(const dnnl::primitive_desc_base& pd, dnnl::primitive primitive,
                                     Args args, std::vector<std::unique_ptr<Step>> after) {
    auto step = std::make_unique<PrimitiveStep>();
    step->primitive = std::move(primitive);
    step->args = std::move(args);
    m_scratchpad.add(pd, step->args);
    m_steps.push_back(std::move(step));
    for (auto& s : after)
        m_steps.push_back(std::move(s));
}

void OneDnnIntExecutor::addWeighted(const IntOp& op, const dnnl::primitive_desc_base& pd,
                                    dnnl::primitive primitive, const memory::desc& srcMd,
                                    const memory::desc& dstMd, const memory::desc& userW,
                                    const void* weights, const memory::desc& biasMd,
                                    const void* bias, Args extra) {
    memory biasMem(biasMd, cpuEngine());
    std::memcpy(biasMem.get_data_handle(), bias, biasMd.get_size());
    std::vector<std::unique_ptr<Step>> after;
    Args args = std::move(extra);
    args[DNNL_ARG_SRC] =
        bindActivation(srcMd, buffer(op.inputs[0]).data, pd.src_desc(), true, after);
    args[DNNL_ARG_WEIGHTS] = reorderedCopy(userW, weights, pd.weights_desc());
    args[DNNL_ARG_BIAS] = biasMem;
    args[DNNL_ARG_DST] =
        bindActivation(dstMd, buffer(op.outputs[0]).data, pd.dst_desc(), false, after);
    addPrimitive(pd, std::move(primitive), std::move(args), std::move(after));
}

// The requantizing output stage shared by the int8 convolution and inner product:
// per-channel scales, then + zpOut and the fused clamp as post-ops.
dnnl::primitive_attr int8OutputAttr(const IntOp& op, int32_t zpOut) {
    dnnl::primitive_attr attr = userScratchpadAttr();
    std::vector<float> scales(op.multiplier.size());
    for (size_t c = 0; c < scales.size(); ++c)
        scales[c] =
            static_cast<float>(std::ldexp(static_cast<double>(op.multiplier[c]), op.shift[c] - 31));
    attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
    dnnl::post_ops po;
    if (zpOut != 0)
        po.append_eltwise(1.0f, algorithm::eltwise_linear, 1.0f, static_cast<float>(zpOut));
    if (op.actMin > -128 || op.actMax < 127)
        po.append_eltwise(1.0f, algorithm::eltwise_clip, static_cast<float>(op.actMin),
                          static_cast<float>(op.actMax));
    attr.set_post_ops(po);
    return attr;
}

dnnl::primitive_attr floatActivationAttr(FusedActivation a) {
    dnnl::primitive_attr attr = userScratchpadAttr();
    dnnl::post_ops po;
    if (a == FusedActivation::Relu)
        po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
    else if (a == FusedActivation::Relu6)
        po.append_eltwise(1.0f, algorithm::eltwise_clip, 0.0f, 6.0f);
    attr.set_post_ops(po);
    return attr;
}

// An NHWC activation [N,H,W,C] as oneDNN's logical {N,C,H,W}; C == 1 is also NCHW, the
// tag oneDNN's first-layer kernels accept.
memory::desc nhwcDesc(int64_t n, int64_t c, int64_t h, int64_t w, DataType type) {
    return memory::desc({n, c, h, w}, type, c == 1 ? Tag::nchw : Tag::nhwc);
}

// Weights of a conv ([Cout,kh,kw,Cin], OHWI) or depthwise ([1,kh,kw,Cout], a grouped conv
// with G = Cin, Cout/G = mult, Cin/G = 1) as oneDNN logical dims with their strides.
memory::desc convWeightsDesc(bool depthwise, int64_t cin, int64_t cout, int64_t kh, int64_t kw,
                             DataType type) {
    if (depthwise) {
        const int64_t mult = cout / cin;
        return memory::desc({cin, mult, 1, kh, kw}, type,
                            memory::dims{mult, 1, 1, kw * cout, cout});
    }
    return memory::desc({cout, cin, kh, kw}, type, memory::dims{kh * kw * cin, 1, kw * cin, cin});
}

dnnl::convolution_forward::desc convDesc(const ConvGeometry& g, const memory::desc& src,
                                         const memory::desc& weights, const memory::desc& bias,
                                         const memory::desc& dst) {
    return dnnl::convolution_forward::desc(
        prop_kind::forward_inference, algorithm::convolution_direct, src, weights, bias, dst,
        {g.sh, g.sw}, {g.dh - 1, g.dw - 1}, {g.padTop, g.padLeft}, {g.padBottom, g.padRight});
}

void OneDnnIntExecutor::addDirect(size_t i, std::unique_ptr<intk::DirectConv> direct) {
    const IntOp& op = m_model->ops[i];
    m_kernels[i] = direct->name();
    m_steps.push_back(std::make_unique<DirectConvStep>(
        std::move(direct), static_cast<const int8_t*>(buffer(op.inputs[0]).data),
        static_cast<int8_t*>(buffer(op.outputs[0]).data)));
}

Status OneDnnIntExecutor::addConv(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& b = tensor(op.inputs[2]);
    const IntTensor& out = tensor(op.outputs[0]);
    if (auto direct = intk::DirectConv::create(op, in, w, b, out, m_batch)) {
        addDirect(i, std::move(direct));
        return Status::ok();
    }
    const bool depthwise = op.kind == IntOpKind::DepthwiseConv2D;
    const ConvGeometry& g = op.geom;
    const int64_t h = in.shape[0], wd = in.shape[1], cin = in.shape[2], cout = out.shape[2];
    // A pointwise conv as an inner product over the pixels, like the fp32 executor (see
    // isPointwise), when the input zero point folds into an int32 bias.
    if (isPointwise(g, depthwise))
        if (std::optional<std::vector<int32_t>> bias = foldedBias(i, cin)) {
            m_kernels[i] = "oneDNN int8 inner product (1x1 conv)";
            addInnerProduct(i, m_batch * h * wd, cin, *bias);
            return Status::ok();
        }

    const memory::desc srcMd = nhwcDesc(m_batch, cin, h, wd, DataType::s8);
    const memory::desc dstMd = nhwcDesc(m_batch, cout, g.outH, g.outW, DataType::s8);
    const memory::desc userW = convWeightsDesc(depthwise, cin, cout, g.kh, g.kw, DataType::s8);
    const memory::desc biasMd({cout}, DataType::s32, Tag::x);
    dnnl::primitive_attr attr = int8OutputAttr(op, out.zeroPoints[0]);
    attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});

    using Pd = dnnl::convolution_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const auto d = convDesc(g, level == 0 ? srcMd : anyLayout(srcMd), anyLayout(userW), biasMd,
                                level == 0 ? dstMd : anyLayout(dstMd));
        return Pd(d, attr, cpuEngine());
    });

    const std::vector<int8_t> w8(w.ints.begin(), w.ints.end());
    memory zpSrc({{1}, DataType::s32, Tag::x}, cpuEngine());
    *static_cast<int32_t*>(zpSrc.get_data_handle()) = in.zeroPoints[0];
    addWeighted(op, pd, dnnl::convolution_forward(pd), srcMd, dstMd, userW, w8.data(), biasMd,
                b.ints.data(), {{DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zpSrc}});
    return Status::ok();
}

Status OneDnnIntExecutor::addFullyConnected(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& b = tensor(op.inputs[2]);
    const IntTensor& out = tensor(op.outputs[0]);
    if (auto direct = intk::DirectConv::create(op, in, w, b, out, m_batch)) {
        addDirect(i, std::move(direct));
        return Status::ok();
    }
    const int64_t k = shapeSize(in.shape);
    const std::optional<std::vector<int32_t>> bias = foldedBias(i, k);
    if (!bias)
        return Status::error(describeOp(*m_model, i) + ": the bias with the input zero point " +
                             "folded in overflows int32");
    addInnerProduct(i, m_batch, k, *bias);
    return Status::ok();
}

std::optional<std::vector<int32_t>> OneDnnIntExecutor::foldedBias(size_t i, int64_t k) const {
    const IntOp& op = m_model->ops[i];
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& b = tensor(op.inputs[2]);
    const int64_t zpIn = tensor(op.inputs[0]).zeroPoints[0];
    // bias_c - zpIn * sum_k w[c,k]: (x - zpIn) . w + bias == x . w + that.
    std::vector<int32_t> bias(b.ints.size());
    for (size_t c = 0; c < bias.size(); ++c) {
        int64_t sum = 0;
        for (int64_t j = 0; j < k; ++j)
            sum += w.ints[c * static_cast<size_t>(k) + static_cast<size_t>(j)];
        const int64_t v = int64_t{b.ints[c]} - zpIn * sum;
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
            return std::nullopt;
        bias[c] = static_cast<int32_t>(v);
    }
    return bias;
}

void OneDnnIntExecutor::addInnerProduct(size_t i, int64_t rows, int64_t k,
                                        const std::vector<int32_t>& bias) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& out = tensor(op.outputs[0]);
    const int64_t cout = static_cast<int64_t>(bias.size());

    const memory::desc srcMd({rows, k}, DataType::s8, Tag::nc);
    const memory::desc dstMd({rows, cout}, DataType::s8, Tag::nc);
    const memory::desc userW({cout, k}, DataType::s8, Tag::oi);
    const memory::desc biasMd({cout}, DataType::s32, Tag::x);
    const dnnl::primitive_attr attr = int8OutputAttr(op, out.zeroPoints[0]);
    using Pd = dnnl::inner_product_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const memory::desc weights = level == 0 ? anyLayout(userW) : userW;
        return Pd({prop_kind::forward_inference, srcMd, weights, biasMd, dstMd}, attr, cpuEngine());
    });
    const std::vector<int8_t> w8(w.ints.begin(), w.ints.end());
    addWeighted(op, pd, dnnl::inner_product_forward(pd), srcMd, dstMd, userW, w8.data(), biasMd,
                bias.data());
}

Status OneDnnIntExecutor::addFloatConv(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& b = tensor(op.inputs[2]);
    const IntTensor& out = tensor(op.outputs[0]);
    const bool depthwise = op.kind == IntOpKind::FloatDepthwiseConv2D;
    const ConvGeometry& g = op.geom;
    const int64_t h = in.shape[0], wd = in.shape[1], cin = in.shape[2], cout = out.shape[2];

    const memory::desc srcMd = nhwcDesc(m_batch, cin, h, wd, DataType::f32);
    const memory::desc dstMd = nhwcDesc(m_batch, cout, g.outH, g.outW, DataType::f32);
    const memory::desc userW = convWeightsDesc(depthwise, cin, cout, g.kh, g.kw, DataType::f32);
    const memory::desc biasMd({cout}, DataType::f32, Tag::x);
    const dnnl::primitive_attr attr = floatActivationAttr(op.activation);
    using Pd = dnnl::convolution_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const auto d = convDesc(g, level == 0 ? srcMd : anyLayout(srcMd), anyLayout(userW), biasMd,
                                level == 0 ? dstMd : anyLayout(dstMd));
        return Pd(d, attr, cpuEngine());
    });
    addWeighted(op, pd, dnnl::convolution_forward(pd), srcMd, dstMd, userW, w.floats.data(), biasMd,
                b.floats.data());
    return Status::ok();
}

Status OneDnnIntExecutor::addFloatFullyConnected(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const IntTensor& w = tensor(op.inputs[1]);
    const IntTensor& b = tensor(op.inputs[2]);
    const IntTensor& out = tensor(op.outputs[0]);
    const int64_t k = shapeSize(in.shape), cout = shapeSize(out.shape);
    const memory::desc srcMd({m_batch, k}, DataType::f32, Tag::nc);
    const memory::desc dstMd({m_batch, cout}, DataType::f32, Tag::nc);
    const memory::desc userW({cout, k}, DataType::f32, Tag::oi);
    const memory::desc biasMd({cout}, DataType::f32, Tag::x);
    const dnnl::primitive_attr attr = floatActivationAttr(op.activation);
    using Pd = dnnl::inner_product_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const memory::desc weights = level == 0 ? anyLayout(userW) : userW;
        return Pd({prop_kind::forward_inference, srcMd, weights, biasMd, dstMd}, attr, cpuEngine());
    });
    addWeighted(op, pd, dnnl::inner_product_forward(pd), srcMd, dstMd, userW, w.floats.data(),
                biasMd, b.floats.data());
    return Status::ok();
}

Status OneDnnIntExecutor::addMaxPool(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const ConvGeometry& g = op.geom;
    const DataType type = op.kind == IntOpKind::MaxPool ? DataType::s8 : DataType::f32;
    const int64_t h = in.shape[0], wd = in.shape[1], c = in.shape[2];
    const memory::desc srcMd = nhwcDesc(m_batch, c, h, wd, type);
    const memory::desc dstMd = nhwcDesc(m_batch, c, g.outH, g.outW, type);
    using Pd = dnnl::pooling_forward::primitive_desc;
    dnnl::primitive_attr attr = userScratchpadAttr();
    if (op.kind == IntOpKind::MaxPool && (op.actMin > -128 || op.actMax < 127)) {
        // The fused clamp, exact on integers.
        dnnl::post_ops po;
        po.append_eltwise(1.0f, algorithm::eltwise_clip, static_cast<float>(op.actMin),
                          static_cast<float>(op.actMax));
        attr.set_post_ops(po);
    }
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const dnnl::pooling_forward::desc d(
            prop_kind::forward_inference, algorithm::pooling_max,
            level == 0 ? srcMd : anyLayout(srcMd), level == 0 ? dstMd : anyLayout(dstMd),
            {g.sh, g.sw}, {g.kh, g.kw}, {g.padTop, g.padLeft}, {g.padBottom, g.padRight});
        return Pd(d, attr, cpuEngine());
    });
    std::vector<std::unique_ptr<Step>> after;
    Args args{{DNNL_ARG_SRC,
               bindActivation(srcMd, buffer(op.inputs[0]).data, pd.src_desc(), true, after)},
              {DNNL_ARG_DST,
               bindActivation(dstMd, buffer(op.outputs[0]).data, pd.dst_desc(), false, after)}};
    addPrimitive(pd, dnnl::pooling_forward(pd), std::move(args), std::move(after));
    return Status::ok();
}

// TFLite's ADD for one pair of inputs, exactly as the reference executor computes it.
int8_t addReference(const IntOp& op, int32_t a, int32_t c, int32_t zp0, int32_t zp1,
                    int32_t zpOut) {
    const int32_t sa = multiplyByQuantizedMultiplier(
        (a - zp0) * (1 << op.leftShift), op.inputMultiplier[0], op.inputShift[0], Rounding::Single);
    const int32_t sc = multiplyByQuantizedMultiplier(
        (c - zp1) * (1 << op.leftShift), op.inputMultiplier[1], op.inputShift[1], Rounding::Single);
    const int32_t raw =
        multiplyByQuantizedMultiplier(static_cast<int64_t>(sa) + sc, op.multiplier[0], op.shift[0],
                                      Rounding::Single) +
        zpOut;
    return static_cast<int8_t>(std::clamp(raw, op.actMin, op.actMax));
}

Status OneDnnIntExecutor::addLoop(size_t i) {
    const IntOp& op = m_model->ops[i];
    const IntTensor& in = tensor(op.inputs[0]);
    const IntTensor& out = tensor(op.outputs[0]);
    const Buffer src = buffer(op.inputs[0]);
    const Buffer dst = buffer(op.outputs[0]);
    const int64_t n = dst.elems, batch = m_batch;
    auto* s8 = static_cast<int8_t*>(src.data);
    auto* d8 = static_cast<int8_t*>(dst.data);
    auto* sf = static_cast<float*>(src.data);
    auto* df = static_cast<float*>(dst.data);
    std::function<void()> fn;
    switch (op.kind) {
    case IntOpKind::Quantize:
        if (src.isFloat) {
            const QuantParams p = out.params();
            fn = [=] { intk::quantize(sf, d8, n, p); };
        } else {
            std::vector<int8_t> table(256);
            const QuantParams p = out.params();
            for (int32_t q = -128; q < 128; ++q) {
                const int32_t v = multiplyByQuantizedMultiplier(
                    q - in.zeroPoints[0], op.multiplier[0], op.shift[0], Rounding::Single);
                table[static_cast<size_t>(q + 128)] =
                    static_cast<int8_t>(std::clamp(v + p.zeroPoint, p.qmin, p.qmax));
            }
            fn = [=] { intk::lookup(s8, d8, n, table.data()); };
        }
        break;
    case IntOpKind::Dequantize: {
        std::vector<float> table(256);
        const QuantParams p = in.params();
        for (int32_t q = -128; q < 128; ++q)
            table[static_cast<size_t>(q + 128)] = dequantizeValue(q, p);
        fn = [=] { intk::lookupFloat(s8, df, n, table.data()); };
        break;
    }
    case IntOpKind::Lut: {
        // The op's table is indexed by q - qmin over the input grid [qmin, qmax].
        std::vector<int8_t> table(256);
        for (int32_t q = -128; q < 128; ++q) {
            const int32_t k = std::clamp(q, in.qmin, in.qmax) - in.qmin;
            table[static_cast<size_t>(q + 128)] =
                static_cast<int8_t>(op.table[static_cast<size_t>(k)]);
        }
        fn = [=] { intk::lookup(s8, d8, n, table.data()); };
        break;
    }
    case IntOpKind::Add: {
        const int32_t zp0 = in.zeroPoints[0], zp1 = tensor(op.inputs[1]).zeroPoints[0];
        std::vector<int8_t> table(256 * 256);
        for (int32_t a = -128; a < 128; ++a)
            for (int32_t c = -128; c < 128; ++c)
                table[static_cast<size_t>((a + 128) * 256 + c + 128)] =
                    addReference(op, a, c, zp0, zp1, out.zeroPoints[0]);
        auto* s1 = static_cast<int8_t*>(buffer(op.inputs[1]).data);
        fn = [=] { intk::addTable(s8, s1, d8, n, table.data()); };
        break;
    }
    case IntOpKind::FloatAdd: {
        std::vector<const float*> srcs;
        for (int t : op.inputs)
            srcs.push_back(static_cast<const float*>(buffer(t).data));
        const FusedActivation a = op.activation;
        fn = [=] { intk::floatAdd(srcs, df, n, a); };
        break;
    }
    case IntOpKind::Concat:
    case IntOpKind::FloatConcat: {
        const size_t axis = static_cast<size_t>(op.axis);
        const int64_t elemBytes = dst.isFloat ? 4 : 1;
        int64_t outer = batch, inner = elemBytes;
        for (size_t d = 0; d < axis; ++d)
            outer *= out.shape[d];
        for (size_t d = axis + 1; d < out.shape.size(); ++d)
            inner *= out.shape[d];
        std::vector<const uint8_t*> srcs;
        std::vector<int64_t> rowBytes;
        for (int t : op.inputs) {
            srcs.push_back(static_cast<const uint8_t*>(buffer(t).data));
            rowBytes.push_back(tensor(t).shape[axis] * inner);
        }
        auto* d = static_cast<uint8_t*>(dst.data);
        fn = [=] { intk::concat(srcs, rowBytes, d, outer); };
        break;
    }
    case IntOpKind::MaxPool: {
        const int64_t h = in.shape[0], w = in.shape[1], c = in.shape[2];
        const ConvGeometry g = op.geom;
        const int32_t lo = op.actMin, hi = op.actMax;
        fn = [=] { intk::maxPoolInt8(s8, d8, batch, h, w, c, g, lo, hi); };
        break;
    }
    case IntOpKind::AvgPool:
    case IntOpKind::FloatAvgPool: {
        const int64_t h = in.shape[0], w = in.shape[1], c = in.shape[2];
        const ConvGeometry g = op.geom;
        if (op.kind == IntOpKind::AvgPool) {
            const int32_t lo = op.actMin, hi = op.actMax;
            fn = [=] { intk::avgPoolInt8(s8, d8, batch, h, w, c, g, lo, hi); };
        } else {
            fn = [=] { intk::avgPoolFloat(sf, df, batch, h, w, c, g); };
        }
        break;
    }
    case IntOpKind::Mean: {
        intk::MeanParams p;
        p.zpIn = in.zeroPoints[0];
        p.multiplier = op.multiplier[0];
        p.shift = op.shift[0];
        p.zpOut = out.zeroPoints[0];
        p.actMin = op.actMin;
        p.actMax = op.actMax;
        const int64_t hw = in.shape[0] * in.shape[1], c = in.shape[2];
        fn = [=] { intk::mean(s8, d8, batch, hw, c, p); };
        break;
    }
    case IntOpKind::FloatMean: {
        const int64_t hw = in.shape[0] * in.shape[1], c = in.shape[2];
        fn = [=] { intk::floatMean(sf, df, batch, hw, c); };
        break;
    }
    case IntOpKind::Pad: {
        const int64_t h = in.shape[0], w = in.shape[1], c = in.shape[2];
        const int64_t oh = out.shape[0], ow = out.shape[1];
        const int64_t top = op.geom.padTop, left = op.geom.padLeft;
        const int64_t elemBytes = dst.isFloat ? 4 : 1;
        // The integer padding value is the input's zero point (real 0).
        std::vector<uint8_t> fill(static_cast<size_t>(elemBytes), 0);
        if (!dst.isFloat)
            fill[0] = static_cast<uint8_t>(static_cast<int8_t>(in.zeroPoints[0]));
        auto* s = static_cast<const uint8_t*>(src.data);
        auto* d = static_cast<uint8_t*>(dst.data);
        fn = [=] { intk::pad(s, d, batch, h, w, c, oh, ow, top, left, elemBytes, fill.data()); };
        break;
    }
    case IntOpKind::Softmax: {
        const QuantParams ip = in.params();
        std::vector<float> table(static_cast<size_t>(ip.qmax - ip.qmin + 1));
        for (size_t d = 0; d < table.size(); ++d)
            table[d] = std::exp(-ip.scale * static_cast<float>(d));
        const QuantParams p = out.params();
        const int64_t k = out.shape.back();
        fn = [=] { intk::softmax(s8, d8, n / k, k, table, p); };
        break;
    }
    case IntOpKind::FloatSoftmax: {
        const int64_t k = out.shape.back();
        fn = [=] { intk::floatSoftmax(sf, df, n / k, k); };
        break;
    }
    case IntOpKind::FloatActivation: {
        const OpType t = op.floatActivation;
        const double alpha = op.leakyAlpha;
        fn = [=] { intk::floatActivation(sf, df, n, t, alpha); };
        break;
    }
    default:
        return Status::error(describeOp(*m_model, i) +
                             ": no loop kernel (internal dispatch error)");
    }
    m_steps.push_back(std::make_unique<LoopStep>(std::move(fn)));
    return Status::ok();
}

// Everything an op needs, checked once: tensor kinds and types, shapes, parameters.
Status OneDnnIntExecutor::validate(size_t i) const {
    const IntOp& op = m_model->ops[i];
    const std::string where = describeOp(*m_model, i);
    const auto nTensors = static_cast<int>(m_model->tensors.size());
    for (const auto* list : {&op.inputs, &op.outputs})
        for (int t : *list)
            if (t < 0 || t >= nTensors)
                return Status::error(where + ": tensor index " + std::to_string(t) +
                                     " is out of range");
    if (op.inputs.empty() || op.outputs.size() != 1)
        return Status::error(where + ": expects inputs and exactly one output");

    const bool weighted =
        op.kind == IntOpKind::Conv2D || op.kind == IntOpKind::DepthwiseConv2D ||
        op.kind == IntOpKind::FullyConnected || op.kind == IntOpKind::FloatConv2D ||
        op.kind == IntOpKind::FloatDepthwiseConv2D || op.kind == IntOpKind::FloatFullyConnected;
    const size_t dataInputs = weighted ? 1 : op.inputs.size();
    if (weighted && op.inputs.size() != 3)
        return Status::error(where + ": expects input, weights and bias");

    // Which side is float: the output of every op but QUANTIZE / DEQUANTIZE / RESHAPE /
    // PAD has the op's own type; inputs follow it except for the converting ops.
    const IntTensor& out = tensor(op.outputs[0]);
    const bool floatOp = op.kind >= IntOpKind::FloatConv2D || op.kind == IntOpKind::Dequantize ||
                         ((op.kind == IntOpKind::Reshape || op.kind == IntOpKind::Pad) &&
                          out.type == IntDType::Float32);
    auto typeError = [&](const IntTensor& t) {
        if (t.type == IntDType::Int16)
            return Status::error(where + ": tensor '" + t.name +
                                 "' is int16 (16-bit activations); the oneDNN int8 executor runs "
                                 "8-bit grids only, use the reference executor");
        return Status::error(where + ": tensor '" + t.name + "' has type " + intDTypeName(t.type) +
                             ", which this op does not take here");
    };
    if (out.isConstant)
        return Status::error(where + ": its output '" + out.name + "' is a constant");
    if (op.kind == IntOpKind::Dequantize ? out.type != IntDType::Float32
                                         : (floatOp ? out.type != IntDType::Float32 : !isInt8(out)))
        return typeError(out);
    for (size_t k = 0; k < dataInputs; ++k) {
        const IntTensor& t = tensor(op.inputs[k]);
        if (t.isConstant)
            return Status::error(where + ": input '" + t.name + "' is a constant");
        const bool wantFloat = op.kind == IntOpKind::Quantize
                                   ? t.type == IntDType::Float32
                                   : floatOp && op.kind != IntOpKind::Dequantize;
        if (wantFloat ? t.type != IntDType::Float32 : !isInt8(t))
            return typeError(t);
    }

    const Shape& inShape = tensor(op.inputs[0]).shape;
    auto needRank = [&](const Shape& s, size_t rank, const char* what) {
        if (s.size() == rank)
            return Status::ok();
        return Status::error(where + ": " + what + " has shape " + shapeToString(s) +
                             ", expected rank " + std::to_string(rank));
    };
    auto needSameShape = [&]() {
        for (size_t k = 0; k < dataInputs; ++k)
            if (tensor(op.inputs[k]).shape != out.shape)
                return Status::error(where + ": input " +
                                     shapeToString(tensor(op.inputs[k]).shape) + " and output " +
                                     shapeToString(out.shape) + " differ");
        return Status::ok();
    };
    auto needZeroPoint = [&](const IntTensor& t) {
        if (t.zeroPoints.size() == 1 && t.scales.size() == 1)
            return Status::ok();
        return Status::error(where + ": tensor '" + t.name +
                             "' needs one scale and one zero point (per-tensor activations)");
    };
    const ConvGeometry& g = op.geom;
    switch (op.kind) {
    case IntOpKind::Conv2D:
    case IntOpKind::DepthwiseConv2D:
    case IntOpKind::FullyConnected:
    case IntOpKind::FloatConv2D:
    case IntOpKind::FloatDepthwiseConv2D:
    case IntOpKind::FloatFullyConnected: {
        const IntTensor& in = tensor(op.inputs[0]);
        const IntTensor& w = tensor(op.inputs[1]);
        const IntTensor& b = tensor(op.inputs[2]);
        const bool integer = op.kind <= IntOpKind::FullyConnected;
        const bool fc =
            op.kind == IntOpKind::FullyConnected || op.kind == IntOpKind::FloatFullyConnected;
        const bool depthwise =
            op.kind == IntOpKind::DepthwiseConv2D || op.kind == IntOpKind::FloatDepthwiseConv2D;
        const int64_t cout = fc ? shapeSize(out.shape) : (out.shape.size() == 3 ? out.shape[2] : 0);
        Shape wantW;
        if (fc) {
            wantW = {cout, shapeSize(in.shape)};
        } else {
            QAT_RETURN_IF_ERROR(needRank(in.shape, 3, "input"));
            QAT_RETURN_IF_ERROR(needRank(out.shape, 3, "output"));
            if (out.shape[0] != g.outH || out.shape[1] != g.outW || in.shape[0] != g.inH ||
                in.shape[1] != g.inW)
                return Status::error(where + ": geometry does not match input " +
                                     shapeToString(in.shape) + " / output " +
                                     shapeToString(out.shape));
            if (depthwise && (in.shape[2] * op.depthMultiplier != cout))
                return Status::error(where + ": " + std::to_string(in.shape[2]) +
                                     " channels times depth multiplier " +
                                     std::to_string(op.depthMultiplier) +
                                     " != " + std::to_string(cout) + " output channels");
            wantW = depthwise ? Shape{1, g.kh, g.kw, cout} : Shape{cout, g.kh, g.kw, in.shape[2]};
        }
        if (!w.isConstant || !b.isConstant || w.shape != wantW)
            return Status::error(where + ": weights '" + w.name + "' " + shapeToString(w.shape) +
                                 " should be constant " + shapeToString(wantW));
        if (!integer) {
            if (static_cast<int64_t>(w.floats.size()) != shapeSize(wantW) ||
                static_cast<int64_t>(b.floats.size()) != cout)
                return Status::error(where + ": float weights or bias are missing their values");
            break;
        }
        if (w.type != IntDType::Int8 || static_cast<int64_t>(w.ints.size()) != shapeSize(wantW))
            return Status::error(where + ": weights '" + w.name + "' must hold int8 values");
        for (int32_t v : w.ints)
            if (v < -128 || v > 127)
                return Status::error(where + ": weight value " + std::to_string(v) +
                                     " does not fit int8");
        if (b.type != IntDType::Int32 || static_cast<int64_t>(b.ints.size()) != cout)
            return Status::error(where + ": bias '" + b.name + "' must be int32 with " +
                                 std::to_string(cout) +
                                 " values (int64 biases come with 16-bit "
                                 "activations, which this executor does not run)");
        const size_t m = op.multiplier.size();
        if ((m != 1 && static_cast<int64_t>(m) != cout) || op.shift.size() != m)
            return Status::error(where + ": needs one requantization multiplier/shift or one "
                                         "per output channel");
        QAT_RETURN_IF_ERROR(needZeroPoint(in));
        QAT_RETURN_IF_ERROR(needZeroPoint(out));
        break;
    }
    case IntOpKind::Quantize:
        QAT_RETURN_IF_ERROR(needSameShape());
        QAT_RETURN_IF_ERROR(needZeroPoint(out));
        if (tensor(op.inputs[0]).type != IntDType::Float32) {
            QAT_RETURN_IF_ERROR(needZeroPoint(tensor(op.inputs[0])));
            if (op.multiplier.size() != 1 || op.shift.size() != 1)
                return Status::error(where + ": requantization needs a multiplier and a shift");
        }
        break;
    case IntOpKind::Dequantize:
        QAT_RETURN_IF_ERROR(needSameShape());
        QAT_RETURN_IF_ERROR(needZeroPoint(tensor(op.inputs[0])));
        break;
    case IntOpKind::Add:
        if (op.inputs.size() != 2)
            return Status::error(where + ": the integer ADD takes two inputs");
        QAT_RETURN_IF_ERROR(needSameShape());
        for (int t : op.inputs)
            QAT_RETURN_IF_ERROR(needZeroPoint(tensor(t)));
        QAT_RETURN_IF_ERROR(needZeroPoint(out));
        if (op.multiplier.size() != 1 || op.shift.size() != 1 || op.leftShift < 0 ||
            op.leftShift > 22)
            return Status::error(where + ": needs one output multiplier and a left shift <= 22");
        break;
    case IntOpKind::FloatAdd:
        QAT_RETURN_IF_ERROR(needSameShape());
        break;
    case IntOpKind::Concat:
    case IntOpKind::FloatConcat: {
        if (op.axis < 0 || op.axis >= static_cast<int>(out.shape.size()))
            return Status::error(where + ": axis " + std::to_string(op.axis) + " out of range");
        int64_t total = 0;
        for (int t : op.inputs) {
            const Shape& s = tensor(t).shape;
            if (s.size() != out.shape.size())
                return Status::error(where + ": input ranks differ from the output's");
            for (size_t d = 0; d < s.size(); ++d)
                if (d != static_cast<size_t>(op.axis) && s[d] != out.shape[d])
                    return Status::error(where + ": input " + shapeToString(s) +
                                         " does not fit output " + shapeToString(out.shape));
            total += s[static_cast<size_t>(op.axis)];
        }
        if (total != out.shape[static_cast<size_t>(op.axis)])
            return Status::error(where + ": inputs do not add up to the output along the axis");
        break;
    }
    case IntOpKind::MaxPool:
    case IntOpKind::AvgPool:
    case IntOpKind::FloatMaxPool:
    case IntOpKind::FloatAvgPool:
        QAT_RETURN_IF_ERROR(needRank(inShape, 3, "input"));
        if (out.shape != Shape{g.outH, g.outW, inShape[2]} || inShape[0] != g.inH ||
            inShape[1] != g.inW)
            return Status::error(where + ": geometry does not match input " +
                                 shapeToString(inShape) + " / output " + shapeToString(out.shape));
        break;
    case IntOpKind::Mean:
    case IntOpKind::FloatMean:
        QAT_RETURN_IF_ERROR(needRank(inShape, 3, "input"));
        if (shapeSize(out.shape) != inShape[2])
            return Status::error(where + ": output " + shapeToString(out.shape) +
                                 " should hold one value per channel");
        if (op.kind == IntOpKind::Mean) {
            QAT_RETURN_IF_ERROR(needZeroPoint(tensor(op.inputs[0])));
            QAT_RETURN_IF_ERROR(needZeroPoint(out));
            if (op.multiplier.size() != 1 || op.shift.size() != 1)
                return Status::error(where + ": needs a multiplier and a shift");
        }
        break;
    case IntOpKind::Reshape:
        if (shapeSize(inShape) != shapeSize(out.shape) || tensor(op.inputs[0]).type != out.type)
            return Status::error(where + ": input and output differ in size or type");
        break;
    case IntOpKind::Pad:
        QAT_RETURN_IF_ERROR(needRank(inShape, 3, "input"));
        if (tensor(op.inputs[0]).type != out.type ||
            out.shape != Shape{inShape[0] + g.padTop + g.padBottom,
                               inShape[1] + g.padLeft + g.padRight, inShape[2]} ||
            g.padTop < 0 || g.padLeft < 0 || g.padBottom < 0 || g.padRight < 0)
            return Status::error(where + ": output " + shapeToString(out.shape) +
                                 " is not the padded input " + shapeToString(inShape));
        if (out.type != IntDType::Float32)
            QAT_RETURN_IF_ERROR(needZeroPoint(tensor(op.inputs[0])));
        break;
    case IntOpKind::Softmax:
    case IntOpKind::FloatSoftmax:
        QAT_RETURN_IF_ERROR(needSameShape());
        if (op.kind == IntOpKind::Softmax) {
            QAT_RETURN_IF_ERROR(needZeroPoint(tensor(op.inputs[0])));
            QAT_RETURN_IF_ERROR(needZeroPoint(out));
        }
        break;
    case IntOpKind::Lut: {
        QAT_RETURN_IF_ERROR(needSameShape());
        const IntTensor& in = tensor(op.inputs[0]);
        if (static_cast<int64_t>(op.table.size()) != int64_t{in.qmax} - in.qmin + 1)
            return Status::error(where + ": the table needs one entry per input code (" +
                                 std::to_string(in.qmax - in.qmin + 1) + ")");
        for (int32_t v : op.table)
            if (v < out.qmin || v > out.qmax)
                return Status::error(where + ": table value " + std::to_string(v) +
                                     " is off the output grid");
        break;
    }
    case IntOpKind::FloatActivation:
        QAT_RETURN_IF_ERROR(needSameShape());
        break;
    }
    return Status::ok();
}

Status OneDnnIntExecutor::addOp(size_t i) {
    const IntOp& op = m_model->ops[i];
    m_kernels[i] = kernelName(op.kind);
    if (op.kind == IntOpKind::Reshape) {
        buffer(op.outputs[0]) = buffer(op.inputs[0]);
        buffer(op.outputs[0]).elems = m_batch * shapeSize(tensor(op.outputs[0]).shape);
        return Status::ok();
    }
    allocate(op.outputs[0]);
    Status status = guard(describeOp(*m_model, i), [&]() -> Status {
        switch (op.kind) {
        case IntOpKind::Conv2D:
        case IntOpKind::DepthwiseConv2D:
            return addConv(i);
        case IntOpKind::FullyConnected:
            return addFullyConnected(i);
        case IntOpKind::FloatConv2D:
        case IntOpKind::FloatDepthwiseConv2D:
            return addFloatConv(i);
        case IntOpKind::FloatFullyConnected:
            return addFloatFullyConnected(i);
        case IntOpKind::MaxPool:
            return intk::directKernelsAvailable() ? addLoop(i) : addMaxPool(i);
        case IntOpKind::FloatMaxPool:
            return addMaxPool(i);
        default:
            return addLoop(i);
        }
    });
    m_stepOp.resize(m_steps.size(), i);
    return status;
}

Status OneDnnIntExecutor::build(const IntModel& model) {
    m_model = &model;
    Status status = buildSteps();
    m_model = nullptr;
    return status;
}

Status OneDnnIntExecutor::buildSteps() {
    if (m_batch < 1)
        return Status::error("IntFastExecutor: batch must be at least 1, got " +
                             std::to_string(m_batch));
    const auto nTensors = static_cast<int>(m_model->tensors.size());
    if (m_model->input < 0 || m_model->input >= nTensors || m_model->output < 0 ||
        m_model->output >= nTensors)
        return Status::error("IntFastExecutor: the model's input or output tensor is missing");
    for (size_t i = 0; i < m_model->ops.size(); ++i)
        QAT_RETURN_IF_ERROR(validate(i).withContext("IntFastExecutor"));

    const IntTensor& inT = tensor(m_model->input);
    const IntTensor& outT = tensor(m_model->output);
    if (inT.shape != m_model->inputShape)
        return Status::error("IntFastExecutor: input tensor '" + inT.name + "' has shape " +
                             shapeToString(inT.shape) + ", the model says " +
                             shapeToString(m_model->inputShape));
    for (const IntTensor* t : {&inT, &outT})
        if (t->type != IntDType::Float32 &&
            (!isInt8(*t) || t->scales.size() != 1 || t->zeroPoints.size() != 1))
            return Status::error("IntFastExecutor: model " +
                                 std::string(t == &inT ? "input" : "output") + " tensor '" +
                                 t->name + "' is " + intDTypeName(t->type) +
                                 "; this executor takes float32 or per-tensor int8 there");

    m_kernels.assign(m_model->ops.size(), std::string());
    m_buffers.assign(m_model->tensors.size(), Buffer{});
    m_storage.reserve(m_model->tensors.size());
    allocate(m_model->input);
    for (size_t i = 0; i < m_model->ops.size(); ++i) {
        for (int t : m_model->ops[i].inputs)
            if (!tensor(t).isConstant && buffer(t).data == nullptr)
                return Status::error("IntFastExecutor: " + describeOp(*m_model, i) +
                                     " reads tensor '" + tensor(t).name +
                                     "' before any op writes it");
        QAT_RETURN_IF_ERROR(addOp(i).withContext("IntFastExecutor"));
    }
    if (buffer(m_model->output).data == nullptr)
        return Status::error("IntFastExecutor: no op writes the model output '" + outT.name + "'");
    m_scratchpad.allocate();

    m_in = buffer(m_model->input);
    m_inputInt = inT.type != IntDType::Float32;
    m_inParams = inT.params();
    m_outBuf = buffer(m_model->output);
    m_outputInt = outT.type != IntDType::Float32;
    if (m_outputInt) {
        const QuantParams p = outT.params();
        m_outTable.resize(256);
        for (int32_t q = -128; q < 128; ++q)
            m_outTable[static_cast<size_t>(q + 128)] = dequantizeValue(q, p);
        m_intOut.assign(static_cast<size_t>(m_outBuf.elems), 0);
    }
    m_out = Tensor(withBatch(m_batch, outT.shape));
    return Status::ok();
}

const Tensor& OneDnnIntExecutor::run(const Tensor& input) {
    QAT_ASSERT(input.size() == m_in.elems);
    if (m_inputInt)
        intk::quantize(input.data(), static_cast<int8_t*>(m_in.data), m_in.elems, m_inParams);
    else
        std::memcpy(m_in.data, input.data(), static_cast<size_t>(m_in.elems) * sizeof(float));
    dnnl::stream& s = cpuStream();
    if (m_profiling) {
        using Clock = std::chrono::steady_clock;
        QAT_ONEDNN_EXECUTE({
            auto t0 = Clock::now();
            for (size_t k = 0; k < m_steps.size(); ++k) {
                m_steps[k]->run(s);
                s.wait();
                const auto t1 = Clock::now();
                m_opMicros[m_stepOp[k]] +=
                    std::chrono::duration<double, std::micro>(t1 - t0).count();
                t0 = t1;
            }
        });
        ++m_profiledRuns;
    } else {
        QAT_ONEDNN_EXECUTE(for (auto& step : m_steps) step->run(s); s.wait());
    }
    if (m_outputInt) {
        const auto* q = static_cast<const int8_t*>(m_outBuf.data);
        intk::lookupFloat(q, m_out.data(), m_outBuf.elems, m_outTable.data());
        for (int64_t i = 0; i < m_outBuf.elems; ++i)
            m_intOut[static_cast<size_t>(i)] = q[i];
    } else {
        std::memcpy(m_out.data(), m_outBuf.data,
                    static_cast<size_t>(m_outBuf.elems) * sizeof(float));
    }
    return m_out;
}

} // namespace

} // namespace onednn

Result<std::unique_ptr<IntFastExecutor>> IntFastExecutor::create(const IntModel& model,
                                                                 int64_t batch) {
    auto exec = std::make_unique<onednn::OneDnnIntExecutor>(batch);
    QAT_RETURN_IF_ERROR(exec->build(model));
    return std::unique_ptr<IntFastExecutor>(std::move(exec));
}

} // namespace qat
