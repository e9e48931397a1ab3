// A raw .tflite writer for robustness tests: builds Model tables field by field with
// FlatBuffers' generic builder API (no generated schema), so a test can write what a
// well-behaved exporter never would: out-of-range buffer and opcode indices, buffers that
// point past the end of the file, shapes that disagree with their data, operators out of
// order. Field ids follow tensorflow/lite/schema/schema.fbs (as engine/src/io/tflite/
// schema.fbs does).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qat::testing::tflw {

struct RawTensor {
    std::vector<int32_t> shape;
    int8_t type = 0; // FLOAT32
    uint32_t buffer = 0;
    std::string name;
};

struct RawOp {
    uint32_t opcodeIndex = 0;
    std::vector<int32_t> inputs, outputs;
    uint8_t optionsType = 0; // BuiltinOptions union index; an all-defaults table is written
};

struct RawBuffer {
    std::vector<uint8_t> data;
    uint64_t offset = 0, size = 0; // external data (models over 2 GB)
};

struct RawModel {
    uint32_t version = 3;
    std::vector<int32_t> opcodes; // builtin codes
    std::vector<RawTensor> tensors;
    std::vector<int32_t> inputs, outputs;
    std::vector<RawOp> ops;
    std::vector<RawBuffer> buffers{RawBuffer{}};
    bool withSubgraph = true;

    std::vector<uint8_t> bytes() const {
        using flatbuffers::Offset;
        flatbuffers::FlatBufferBuilder fbb;
        auto field = [](int id) { return static_cast<flatbuffers::voffset_t>(4 + 2 * id); };
        std::vector<Offset<void>> codes;
        for (int32_t code : opcodes) {
            const auto start = fbb.StartTable();
            fbb.AddElement<int8_t>(field(0), static_cast<int8_t>(code < 127 ? code : 127), 0);
            fbb.AddElement<int32_t>(field(3), code, 0);
            codes.push_back(Offset<void>(fbb.EndTable(start)));
        }
        std::vector<Offset<void>> bufs;
        for (const RawBuffer& b : buffers) {
            Offset<flatbuffers::Vector<uint8_t>> data;
            if (!b.data.empty()) {
                fbb.ForceVectorAlignment(b.data.size(), 1, 16);
                data = fbb.CreateVector(b.data);
            }
            const auto start = fbb.StartTable();
            if (!b.data.empty())
                fbb.AddOffset(field(0), data);
            fbb.AddElement<uint64_t>(field(1), b.offset, 0);
            fbb.AddElement<uint64_t>(field(2), b.size, 0);
            bufs.push_back(Offset<void>(fbb.EndTable(start)));
        }
        std::vector<Offset<void>> subgraphs;
        if (withSubgraph) {
            std::vector<Offset<void>> tensorTables;
            for (const RawTensor& t : tensors) {
                auto shape = fbb.CreateVector(t.shape);
                auto name = fbb.CreateString(t.name);
                const auto start = fbb.StartTable();
                fbb.AddOffset(field(0), shape);
                fbb.AddElement<int8_t>(field(1), t.type, 0);
                fbb.AddElement<uint32_t>(field(2), t.buffer, 0);
                fbb.AddOffset(field(3), name);
                tensorTables.push_back(Offset<void>(fbb.EndTable(start)));
            }
            std::vector<Offset<void>> opTables;
            for (const RawOp& op : ops) {
                auto ins = fbb.CreateVector(op.inputs);
                auto outs = fbb.CreateVector(op.outputs);
                Offset<void> options;
                if (op.optionsType)
                    options = Offset<void>(fbb.EndTable(fbb.StartTable()));
                const auto start = fbb.StartTable();
                fbb.AddElement<uint32_t>(field(0), op.opcodeIndex, 0);
                fbb.AddOffset(field(1), ins);
                fbb.AddOffset(field(2), outs);
                if (op.optionsType) {
                    fbb.AddElement<uint8_t>(field(3), op.optionsType, 0);
                    fbb.AddOffset(field(4), options);
                }
                opTables.push_back(Offset<void>(fbb.EndTable(start)));
            }
            auto tensorVec = fbb.CreateVector(tensorTables);
            auto inVec = fbb.CreateVector(inputs);
            auto outVec = fbb.CreateVector(outputs);
            auto opVec = fbb.CreateVector(opTables);
            const auto start = fbb.StartTable();
            fbb.AddOffset(field(0), tensorVec);
            fbb.AddOffset(field(1), inVec);
            fbb.AddOffset(field(2), outVec);
            fbb.AddOffset(field(3), opVec);
            subgraphs.push_back(Offset<void>(fbb.EndTable(start)));
        }
        auto codeVec = fbb.CreateVector(codes);
        auto subgraphVec = fbb.CreateVector(subgraphs);
        auto bufferVec = fbb.CreateVector(bufs);
        const auto start = fbb.StartTable();
        fbb.AddElement<uint32_t>(field(0), version, 0);
        fbb.AddOffset(field(1), codeVec);
        fbb.AddOffset(field(2), subgraphVec);
        fbb.AddOffset(field(4), bufferVec);
        fbb.Finish(Offset<void>(fbb.EndTable(start)), "TFL3");
        return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    }
};

template <typename T> std::vector<uint8_t> raw(const std::vector<T>& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return std::vector<uint8_t>(p, p + v.size() * sizeof(T));
}

// x [1,4] -> FULLY_CONNECTED (w [2,4] in buffer 1, b [2] in buffer 2) -> y [1,2]: valid.
inline RawModel fullyConnectedModel() {
    RawModel m;
    m.opcodes = {9}; // FULLY_CONNECTED
    m.buffers.push_back({raw(std::vector<float>{1, 2, 3, 4, -1, -2, -3, -4}), 0, 0});
    m.buffers.push_back({raw(std::vector<float>{0.5f, -0.5f}), 0, 0});
    m.tensors = {{{1, 4}, 0, 0, "x"}, {{2, 4}, 0, 1, "w"}, {{2}, 0, 2, "b"}, {{1, 2}, 0, 0, "y"}};
    m.inputs = {0};
    m.outputs = {3};
    m.ops = {{0, {0, 1, 2}, {3}, 8 /* FullyConnectedOptions */}};
    return m;
}

} // namespace qat::testing::tflw
