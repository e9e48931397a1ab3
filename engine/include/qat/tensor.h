// Tensor: a dense float32 buffer with a shape, row-major (last dimension fastest).
// Activations are NHWC (the .tflite layout): batch first, channels last. Per-sample
// shapes in the graph IR omit the batch dimension.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "qat/status.h"

namespace qat {

using Shape = std::vector<int64_t>;

inline int64_t shapeSize(const Shape& shape) {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

inline std::string shapeToString(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += "x";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// Prepends a batch dimension to a per-sample shape.
inline Shape withBatch(int64_t batch, const Shape& sample) {
    Shape s{batch};
    s.insert(s.end(), sample.begin(), sample.end());
    return s;
}

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(Shape shape, float fill = 0.0f)
        : m_shape(std::move(shape)), m_data(static_cast<size_t>(shapeSize(m_shape)), fill) {}
    Tensor(Shape shape, std::vector<float> data)
        : m_shape(std::move(shape)), m_data(std::move(data)) {
        QAT_ASSERT(static_cast<int64_t>(m_data.size()) == shapeSize(m_shape));
    }

    const Shape& shape() const { return m_shape; }
    int64_t dim(size_t i) const { return m_shape[i]; }
    size_t rank() const { return m_shape.size(); }
    int64_t size() const { return static_cast<int64_t>(m_data.size()); }
    bool empty() const { return m_data.empty(); }

    float* data() { return m_data.data(); }
    const float* data() const { return m_data.data(); }
    float& operator[](int64_t i) { return m_data[static_cast<size_t>(i)]; }
    float operator[](int64_t i) const { return m_data[static_cast<size_t>(i)]; }
    std::vector<float>& vec() { return m_data; }
    const std::vector<float>& vec() const { return m_data; }

    // Changes the shape, reallocating only when the element count grows. Contents are
    // unspecified afterwards unless the size is unchanged.
    void resize(const Shape& shape) {
        m_shape = shape;
        m_data.resize(static_cast<size_t>(shapeSize(shape)));
    }
    // Reinterprets the same elements with another shape of equal size.
    void reshape(const Shape& shape) {
        QAT_ASSERT(shapeSize(shape) == size());
        m_shape = shape;
    }
    void fill(float v) { std::fill(m_data.begin(), m_data.end(), v); }
    void zero() { fill(0.0f); }

    bool operator==(const Tensor& o) const { return m_shape == o.m_shape && m_data == o.m_data; }

private:
    Shape m_shape;
    std::vector<float> m_data;
};

} // namespace qat
