// Which oneDNN implementations a layer's primitives dispatch to, for tests and the layer
// benchmark. Deliberately free of dnnl.hpp so that code outside backend/onednn can ask.
#pragma once

#include <string>

#include "ops/layer.h"

namespace qat::onednn {

// For the plan of the layer's last prepare(), e.g.
// "fwd=brgconv:avx512_core bwd_weights=jit:avx512_core bwd_data=jit:avx512_core";
// a primitive whose activations go through a layout reorder is marked "+reorder".
// Empty for layers that are not oneDNN-backed or not prepared.
std::string implementationInfo(const Layer& layer);

} // namespace qat::onednn
