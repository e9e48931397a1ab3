// Element-wise and structural layers (Eigen/OpenMP): activations, Add, Concat, Reshape,
// Flatten, ZeroPad, Dropout, Softmax. Scaffold until the layers land.
#include "ops/layer.h"

namespace qat {

std::unique_ptr<Layer> makeBasicLayer(Node& /*node*/, uint64_t /*seed*/) {
    return nullptr;
}

} // namespace qat
