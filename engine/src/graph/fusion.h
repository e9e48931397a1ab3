// What folds into a weighted node (Conv2D, DepthwiseConv2D, Dense) for inference, shared
// by the float .tflite export and the float inference executor so that both fuse and
// fold exactly alike. A BatchNorm that is the node's only live consumer (looking through
// Dropouts, identities at inference) folds into weights and bias, and a ReLU / ReLU6 that
// is then the only live consumer becomes the fused activation. Folding:
//   s[c] = gamma[c] / sqrt(moving_var[c] + eps),  w'[.., c, ..] = w[.., c, ..] * s[c],
//   b'[c] = (b[c] - moving_mean[c]) * s[c] + beta[c]
// computed in double; eps is rounded to float first because the BatchNorm layer runs
// with a float epsilon (batchnorm_layer.cpp), so the folded layer matches it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"

namespace qat {

// The nodes the graph's output depends on (the output included).
std::set<std::string> liveNodes(const Graph& graph);

struct FusedBlock {
    const Node* batchNorm = nullptr;  // the folded BatchNorm, if any
    const Node* activation = nullptr; // the fused ReLU / ReLU6, if any
    std::vector<std::string> fused;   // every absorbed node in graph order, Dropouts included
    const Node* last = nullptr;       // whose output the block's output stands for
};
// What follows `node` and folds into it, given the live set. allowBatchNorm = false looks
// for an activation only (ADD with a fused activation).
FusedBlock fuseFollowers(const Graph& graph, const std::set<std::string>& live, const Node& node,
                         bool allowBatchNorm = true);

// Folds `bn` into the per-output-channel `bias` (in place; one value per channel, zeros
// for a layer without bias) and returns the per-channel weight scales s. `into` is the
// weighted node (named in errors). Errors name the BatchNorm: missing or mis-sized
// parameters, or a moving_var + epsilon that is not positive.
Result<std::vector<double>> foldBatchNorm(const Node& bn, const Node& into,
                                          std::vector<float>& bias);

// values[o, c, i] *= scale[c] for a buffer laid out [outer, channels, inner] (the
// multiply in double, rounded to float once).
void scaleChannels(std::vector<float>& values, int64_t outer, int64_t channels, int64_t inner,
                   const std::vector<double>& scale);

} // namespace qat
