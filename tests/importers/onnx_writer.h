// A tiny ONNX ModelProto writer for tests: protobuf wire format by hand (varints,
// length-delimited fields, packed repeats), so that tests can build small, malformed or
// unusual ONNX graphs (cycles, missing initializers, absurd dimensions, unsupported ops)
// without linking protobuf. Field numbers are those of onnx/onnx.proto (ONNX 1.12).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace qat::testing::onnxw {

// One protobuf message being written.
class Msg {
public:
    Msg& varint(int field, uint64_t v) {
        key(field, 0);
        raw(v);
        return *this;
    }
    Msg& int64(int field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
    Msg& bytes(int field, const std::string& b) {
        key(field, 2);
        raw(b.size());
        m_out += b;
        return *this;
    }
    Msg& msg(int field, const Msg& m) { return bytes(field, m.str()); }
    Msg& f32(int field, float v) {
        key(field, 5);
        char b[4];
        std::memcpy(b, &v, 4);
        m_out.append(b, 4);
        return *this;
    }
    Msg& packedInts(int field, const std::vector<int64_t>& v) {
        Msg body;
        for (int64_t x : v)
            body.raw(static_cast<uint64_t>(x));
        return bytes(field, body.str());
    }
    Msg& packedFloats(int field, const std::vector<float>& v) {
        std::string b(v.size() * 4, '\0');
        if (!v.empty())
            std::memcpy(b.data(), v.data(), b.size());
        return bytes(field, b);
    }
    const std::string& str() const { return m_out; }

private:
    void key(int field, int wire) {
        raw(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire));
    }
    void raw(uint64_t v) {
        do {
            uint8_t b = v & 0x7f;
            v >>= 7;
            if (v)
                b |= 0x80;
            m_out.push_back(static_cast<char>(b));
        } while (v);
    }
    std::string m_out;
};

constexpr int kFloat = 1;
constexpr int kInt64 = 7;

struct TensorSpec {
    std::string name;
    std::vector<int64_t> dims;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    bool isInt = false;
};

inline Msg tensorMsg(const TensorSpec& t) {
    Msg m;
    m.packedInts(1, t.dims).varint(2, t.isInt ? kInt64 : kFloat).bytes(8, t.name);
    if (t.isInt)
        m.packedInts(7, t.ints);
    else
        m.packedFloats(4, t.floats);
    return m;
}

inline TensorSpec floats(std::string name, std::vector<int64_t> dims, std::vector<float> v) {
    return {std::move(name), std::move(dims), std::move(v), {}, false};
}
inline TensorSpec ints(std::string name, std::vector<int64_t> dims, std::vector<int64_t> v) {
    return {std::move(name), std::move(dims), {}, std::move(v), true};
}

struct AttrSpec {
    std::string name;
    enum Kind { Int, Float, Ints, String, Tensor } kind = Int;
    int64_t i = 0;
    float f = 0;
    std::vector<int64_t> ints;
    std::string s;
    TensorSpec t;
};
inline AttrSpec attrInt(std::string name, int64_t v) {
    AttrSpec a;
    a.name = std::move(name);
    a.i = v;
    return a;
}
inline AttrSpec attrFloat(std::string name, float v) {
    AttrSpec a;
    a.name = std::move(name);
    a.kind = AttrSpec::Float;
    a.f = v;
    return a;
}
inline AttrSpec attrInts(std::string name, std::vector<int64_t> v) {
    AttrSpec a;
    a.name = std::move(name);
    a.kind = AttrSpec::Ints;
    a.ints = std::move(v);
    return a;
}
inline AttrSpec attrString(std::string name, std::string v) {
    AttrSpec a;
    a.name = std::move(name);
    a.kind = AttrSpec::String;
    a.s = std::move(v);
    return a;
}
inline AttrSpec attrTensor(std::string name, TensorSpec t) {
    AttrSpec a;
    a.name = std::move(name);
    a.kind = AttrSpec::Tensor;
    a.t = std::move(t);
    return a;
}

struct NodeSpec {
    std::string op;
    std::string name;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::vector<AttrSpec> attrs;
    std::string domain;
};

// A graph with float inputs/outputs; dims of -1 are written as the symbolic "batch".
struct ModelSpec {
    int64_t opset = 13;
    std::vector<std::pair<std::string, std::vector<int64_t>>> inputs;
    std::vector<std::pair<std::string, std::vector<int64_t>>> outputs;
    std::vector<TensorSpec> initializers;
    std::vector<NodeSpec> nodes;

    std::string serialize() const {
        auto valueInfo = [](const std::string& name, const std::vector<int64_t>& dims) {
            Msg shape;
            for (int64_t d : dims) {
                Msg dim;
                if (d < 0)
                    dim.bytes(2, "batch");
                else
                    dim.int64(1, d);
                shape.msg(1, dim);
            }
            Msg tensorType;
            tensorType.varint(1, kFloat).msg(2, shape);
            Msg type;
            type.msg(1, tensorType);
            Msg vi;
            vi.bytes(1, name).msg(2, type);
            return vi;
        };
        Msg graph;
        for (const NodeSpec& n : nodes) {
            Msg node;
            for (const auto& in : n.inputs)
                node.bytes(1, in);
            for (const auto& out : n.outputs)
                node.bytes(2, out);
            node.bytes(3, n.name).bytes(4, n.op);
            for (const AttrSpec& a : n.attrs) {
                Msg attr;
                attr.bytes(1, a.name);
                switch (a.kind) {
                case AttrSpec::Int:
                    attr.int64(3, a.i).varint(20, 2);
                    break;
                case AttrSpec::Float:
                    attr.f32(2, a.f).varint(20, 1);
                    break;
                case AttrSpec::Ints:
                    attr.packedInts(8, a.ints).varint(20, 7);
                    break;
                case AttrSpec::String:
                    attr.bytes(4, a.s).varint(20, 3);
                    break;
                case AttrSpec::Tensor:
                    attr.msg(5, tensorMsg(a.t)).varint(20, 4);
                    break;
                }
                node.msg(5, attr);
            }
            if (!n.domain.empty())
                node.bytes(7, n.domain);
            graph.msg(1, node);
        }
        graph.bytes(2, "test");
        for (const TensorSpec& t : initializers)
            graph.msg(5, tensorMsg(t));
        for (const auto& [name, dims] : inputs)
            graph.msg(11, valueInfo(name, dims));
        for (const auto& [name, dims] : outputs)
            graph.msg(12, valueInfo(name, dims));
        Msg opsetId;
        opsetId.bytes(1, "").int64(2, opset);
        Msg model;
        model.int64(1, 8).bytes(2, "qat-test").msg(7, graph).msg(8, opsetId);
        return model.str();
    }
    std::vector<uint8_t> bytes() const {
        const std::string s = serialize();
        return std::vector<uint8_t>(s.begin(), s.end());
    }
};

} // namespace qat::testing::onnxw
