// oneDNN backend plumbing: engine/stream singletons, error conversion, scratchpads and
// layout bridges (see context.h).
#include "backend/onednn/context.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace qat::onednn {

dnnl::engine& cpuEngine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::stream& cpuStream() {
    thread_local dnnl::stream stream(cpuEngine());
    return stream;
}

void executionFailed(const dnnl::error& e, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: oneDNN primitive execution failed: %s (status %d)\n", file, line,
                 e.what(), static_cast<int>(e.status));
    std::abort();
}

bool isReferenceImpl(const dnnl::primitive_desc_base& pd) {
    const char* info = pd.impl_info_str();
    return info != nullptr && std::strncmp(info, "ref", 3) == 0;
}

dnnl::primitive_attr userScratchpadAttr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

void AlignedBuffer::resize(size_t bytes) {
    if (bytes <= m_size)
        return;
    m_data.reset(::operator new (bytes, std::align_val_t{64}));
    m_size = bytes;
}

void SharedScratchpad::add(const dnnl::primitive_desc_base& pd, Args& args) {
    m_users.emplace_back(pd.scratchpad_desc(), &args);
}

void SharedScratchpad::allocate() {
    size_t bytes = 0;
    for (const auto& [desc, args] : m_users)
        bytes = std::max(bytes, desc.get_size());
    if (bytes == 0)
        return;
    m_buffer.resize(bytes);
    for (const auto& [desc, args] : m_users)
        if (desc.get_size() > 0)
            (*args)[DNNL_ARG_SCRATCHPAD] = memory(desc, cpuEngine(), m_buffer.data());
}

void LayoutBridge::init(const memory::desc& user, const memory::desc& inner, Direction dir) {
    m_user = memory(user, cpuEngine(), DNNL_MEMORY_NONE);
    m_same = user == inner;
    m_hasReorder = !m_same;
    if (m_same)
        return;
    m_inner = memory(inner, cpuEngine());
    m_reorder =
        dir == Direction::In ? dnnl::reorder(m_user, m_inner) : dnnl::reorder(m_inner, m_user);
    m_inIsUser = dir == Direction::In;
}

void LayoutBridge::initShared(const memory::desc& user, const memory& shared, Direction dir) {
    m_user = memory(user, cpuEngine(), DNNL_MEMORY_NONE);
    m_same = false;
    m_hasReorder = false;
    m_inner = shared;
    m_inIsUser = dir == Direction::In;
}

void LayoutBridge::sync(dnnl::stream& s) {
    if (!m_hasReorder)
        return;
    if (m_inIsUser)
        m_reorder.execute(s, m_user, m_inner);
    else
        m_reorder.execute(s, m_inner, m_user);
}

memory::desc plainDesc(const memory::dims& dims, Tag tag) {
    return memory::desc(dims, memory::data_type::f32, tag);
}

memory::desc activationDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
    return plainDesc({n, c, h, w}, c == 1 ? Tag::nchw : Tag::nhwc);
}

memory reorderedCopy(const memory::desc& user, const void* data, const memory::desc& want) {
    memory src(user, cpuEngine(), const_cast<void*>(data));
    memory dst(want, cpuEngine());
    dnnl::stream& s = cpuStream();
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    return dst;
}

Result<ConvChannels> resolveConvChannels(const Node& node, int64_t inC) {
    const std::string where = describe(node);
    ConvChannels c;
    c.inC = inC;
    c.depthwise = node.type == OpType::DepthwiseConv2D;
    if (c.depthwise) {
        const int64_t mult = node.attrs.getInt("depth_multiplier", 1);
        if (mult < 1)
            return Status::error(where + ": depth_multiplier must be >= 1, got " +
                                 std::to_string(mult));
        c.groups = inC;
        c.outC = inC * mult;
        return c;
    }
    c.outC = node.attrs.getInt("filters", 0);
    c.groups = node.attrs.getInt("groups", 1);
    if (c.outC < 1)
        return Status::error(where + ": attribute 'filters' must be >= 1");
    if (c.groups < 1 || inC % c.groups != 0 || c.outC % c.groups != 0)
        return Status::error(where + ": groups=" + std::to_string(c.groups) +
                             " must divide the input channels (" + std::to_string(inC) +
                             ") and the filters (" + std::to_string(c.outC) + ")");
    return c;
}

memory::desc convWeightsUserDesc(const ConvChannels& c, int64_t kh, int64_t kw) {
    const int64_t g = c.groups;
    if (c.depthwise) // [1,kh,kw,C*mult]: physically h, w, (i=1), g, o
        return plainDesc({g, c.outC / g, 1, kh, kw}, Tag::hwigo);
    if (g == 1) // [Cout,kh,kw,Cin]
        return plainDesc({c.outC, c.inC, kh, kw}, Tag::ohwi);
    // [Cout,kh,kw,Cin/G] = [G][Cout/G][kh][kw][Cin/G]
    return plainDesc({g, c.outC / g, c.inC / g, kh, kw}, Tag::gohwi);
}

Shape convWeightsShape(const ConvChannels& c, int64_t kh, int64_t kw) {
    return c.depthwise ? Shape{1, kh, kw, c.outC} : Shape{c.outC, kh, kw, c.inC / c.groups};
}

Result<Tensor*> requireParam(Node& node, const std::string& name, const Shape& shape) {
    auto it = node.params.find(name);
    if (it == node.params.end())
        return Status::error(describe(node) + ": missing parameter '" + name +
                             "'; initialize the model's parameters or load weights");
    if (it->second.shape() != shape)
        return Status::error(describe(node) + ": parameter '" + name + "' has shape " +
                             shapeToString(it->second.shape()) + ", expected " +
                             shapeToString(shape));
    return &it->second;
}

memory::desc anyLayout(const memory::desc& desc) {
    return memory::desc(desc.dims(), desc.data_type(), Tag::any);
}

TrainableParams::TrainableParams(Node& node, bool hasBias) : m_node(node), m_hasBias(hasBias) {
    if (auto it = node.params.find("weights"); it != node.params.end())
        gradWeights = Tensor(it->second.shape());
    if (auto it = node.params.find("bias"); hasBias && it != node.params.end())
        gradBias = Tensor(it->second.shape());
}

Status TrainableParams::bind(const Shape& weightsShape, int64_t outChannels) {
    auto w = requireParam(m_node, "weights", weightsShape);
    if (!w)
        return w.status();
    weights = w.value();
    if (gradWeights.shape() != weightsShape)
        gradWeights = Tensor(weightsShape);
    if (!m_hasBias)
        return Status::ok();
    const Shape biasShape{outChannels};
    auto b = requireParam(m_node, "bias", biasShape);
    if (!b)
        return b.status();
    bias = b.value();
    if (gradBias.shape() != biasShape)
        gradBias = Tensor(biasShape);
    return Status::ok();
}

std::vector<ParamSlot> TrainableParams::slots() {
    std::vector<ParamSlot> out;
    if (auto it = m_node.params.find("weights"); it != m_node.params.end())
        out.push_back({m_node.name + "/weights", &it->second, &gradWeights, true});
    if (auto it = m_node.params.find("bias"); m_hasBias && it != m_node.params.end())
        out.push_back({m_node.name + "/bias", &it->second, &gradBias, false});
    return out;
}

std::string describe(const Node& node) {
    return std::string(opTypeName(node.type)) + " '" + node.name + "'";
}

} // namespace qat::onednn
