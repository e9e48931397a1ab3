// makeOneDnnLayer(): the oneDNN-backed layers (Conv2D, DepthwiseConv2D, Dense, MaxPool,
// AvgPool, GlobalAvgPool, BatchNorm), and the report of the ISA oneDNN dispatches to.
#include "backend/onednn/introspection.h"
#include "backend/onednn/layers.h"
#include "qat/runtime.h"

namespace qat {

namespace onednn {

std::string implName(const char* name, const dnnl::primitive_desc_base& pd, bool reorders) {
    return std::string(name) + "=" + pd.impl_info_str() + (reorders ? "+reorder" : "");
}

std::string implementationInfo(const Layer& layer) {
    if (auto* own = dynamic_cast<const OneDnnLayer*>(&layer))
        return own->implementationInfo();
    return {};
}

} // namespace onednn

std::unique_ptr<Layer> makeOneDnnLayer(Node& node) {
    if (auto layer = onednn::makeConvLayer(node))
        return layer;
    if (auto layer = onednn::makeDenseLayer(node))
        return layer;
    if (auto layer = onednn::makePoolLayer(node))
        return layer;
    return onednn::makeBatchNormLayer(node);
}

std::string oneDnnIsa() {
    using dnnl::cpu_isa;
    switch (dnnl::get_effective_cpu_isa()) {
    case cpu_isa::sse41:
        return "sse41";
    case cpu_isa::avx:
        return "avx";
    case cpu_isa::avx2:
        return "avx2";
    case cpu_isa::avx2_vnni:
        return "avx2_vnni";
    case cpu_isa::avx512_mic:
        return "avx512_mic";
    case cpu_isa::avx512_mic_4ops:
        return "avx512_mic_4ops";
    case cpu_isa::avx512_core:
        return "avx512_core";
    case cpu_isa::avx512_core_vnni:
        return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16:
        return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx:
        return "avx512_core_amx";
    case cpu_isa::all:
        break;
    }
    return "unknown";
}

} // namespace qat
