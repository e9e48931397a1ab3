// Internal to backend/onednn: the per-family factories behind makeOneDnnLayer(). Each
// returns nullptr when the node's type is not its own.
#pragma once

#include <memory>
#include <string>

#include "backend/onednn/context.h"
#include "ops/layer.h"

namespace qat::onednn {

// Base of the layers here: reports the implementations its current plan runs.
class OneDnnLayer : public Layer {
public:
    virtual std::string implementationInfo() const = 0;
};

// "name=impl" for a primitive descriptor, marked when activations are reordered.
std::string implName(const char* name, const dnnl::primitive_desc_base& pd, bool reorders = false);

std::unique_ptr<Layer> makeConvLayer(Node& node);      // Conv2D, DepthwiseConv2D
std::unique_ptr<Layer> makeDenseLayer(Node& node);     // Dense
std::unique_ptr<Layer> makePoolLayer(Node& node);      // MaxPool, AvgPool, GlobalAvgPool
std::unique_ptr<Layer> makeBatchNormLayer(Node& node); // BatchNorm

} // namespace qat::onednn
