// oneDNN-backed layers. Scaffold until the layers land.
#include "ops/layer.h"
#include "qat/runtime.h"

namespace qat {

std::unique_ptr<Layer> makeOneDnnLayer(Node& /*node*/) {
    return nullptr;
}
std::string oneDnnIsa() {
    return "unknown";
}

} // namespace qat
