// Chooses the implementation for a node: oneDNN-backed layers first, then the
// element-wise/structural layers. Input nodes have no layer.
#include "ops/layer.h"

namespace qat {

Result<std::unique_ptr<Layer>> makeLayer(Node& node, uint64_t seed) {
    if (auto layer = makeOneDnnLayer(node))
        return layer;
    if (auto layer = makeBasicLayer(node, seed))
        return layer;
    return Status::error(std::string("node '") + node.name + "': no executable layer for op type " +
                         opTypeName(node.type));
}

} // namespace qat
