// Float .tflite import (qat/importers.h): subgraph 0 of a TFL3 flatbuffer -> graph IR.
// The whole buffer is checked by the FlatBuffers verifier first (every offset, vector and
// string inside the file), so later reads are bounds-safe; tensor and buffer indices,
// buffer sizes against shapes, and operator order are then validated here. Each tensor
// is a constant (a buffer, or a DEQUANTIZE of one), an activation produced by a graph
// node, or poisoned (downstream of an unsupported operator). Shapes are NHWC with the
// batch dimension (1 or dynamic) dropped.
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "io/import_support.h"
#include "io/tflite/tflite_schema.h"
#include "qat/importers.h"

namespace qat {

namespace {

namespace fb = qat::tflite::fb;
using importer::boundedCount;
using Ints = std::vector<int64_t>;

struct Outcome {
    enum class Kind { Ok, Unsupported, Invalid } kind = Kind::Ok;
    std::string message;
    static Outcome ok() { return {}; }
    static Outcome unsupported(std::string m) { return {Kind::Unsupported, std::move(m)}; }
    static Outcome invalid(std::string m) { return {Kind::Invalid, std::move(m)}; }
    bool isOk() const { return kind == Kind::Ok; }
};

#define QAT_TFL_TRY(expr)                                                                          \
    do {                                                                                           \
        Outcome qatOutcome_ = (expr);                                                              \
        if (!qatOutcome_.isOk())                                                                   \
            return qatOutcome_;                                                                    \
    } while (0)

struct TValue {
    enum class Kind { Unset, Const, Dyn, Poisoned } kind = Kind::Unset;
    std::vector<float> f; // Const (dequantized): values
    Ints dims;            // Const: shape
    std::string node;     // Dyn: graph node
};

// 'name' (built by appending: `"'" + std::string` trips a GCC 12 -Wrestrict false positive).
std::string quoted(const std::string& name) {
    std::string s = "'";
    s += name;
    s += "'";
    return s;
}

std::string intsText(const Ints& v) {
    std::string s = "[";
    for (size_t k = 0; k < v.size(); ++k) {
        if (k)
            s += ", ";
        s += std::to_string(v[k]);
    }
    return s + "]";
}

int64_t typeWidth(fb::TensorType t) {
    switch (t) {
    case fb::TensorType_FLOAT32:
    case fb::TensorType_INT32:
    case fb::TensorType_UINT32:
        return 4;
    case fb::TensorType_FLOAT16:
    case fb::TensorType_INT16:
    case fb::TensorType_UINT16:
        return 2;
    case fb::TensorType_INT8:
    case fb::TensorType_UINT8:
    case fb::TensorType_BOOL:
        return 1;
    case fb::TensorType_INT64:
    case fb::TensorType_FLOAT64:
    case fb::TensorType_UINT64:
        return 8;
    default:
        return 0;
    }
}

std::string typeName(fb::TensorType t) {
    const char* name = fb::EnumNameTensorType(t);
    return name && *name ? name : "type " + std::to_string(static_cast<int>(t));
}

class TfliteImporter {
public:
    TfliteImporter(std::span<const uint8_t> bytes, std::string source)
        : m_bytes(bytes), m_source(std::move(source)) {}

    Result<ImportResult> run(const ImportOptions& options);

private:
    Status error(const std::string& message) const {
        return Status::error(m_source + ": " + message);
    }
    std::string where() const {
        return "operator #" + std::to_string(m_opIndex) + " " + m_opType + " ('" + m_opName + "')";
    }
    void note(const std::string& text) {
        if (m_noteSet.insert(text).second)
            m_report.notes.push_back(text);
    }
    const fb::Tensor* tensor(int32_t index) const {
        return m_sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
    }
    std::string tensorName(int32_t index) const {
        const fb::Tensor* t = tensor(index);
        return t->name() && t->name()->size() ? t->name()->str()
                                              : "tensor #" + std::to_string(index);
    }
    static Ints dimsOf(const fb::Tensor* t) {
        Ints dims;
        if (t->shape())
            for (int32_t d : *t->shape())
                dims.push_back(d);
        return dims;
    }
    std::string opName(const fb::Operator* op, size_t index) const;
    std::string opTypeName(const fb::Operator* op) const;

    Status checkStructure();
    Status selectOutputs(const std::string& wanted);
    Outcome setUpInput();
    Outcome buffer(int32_t tensorIndex, std::span<const uint8_t>& out) const;
    bool isConstant(int32_t tensorIndex) const;
    Outcome staticCheck(const fb::Operator* op);
    Outcome convert(const fb::Operator* op);

    // Operands.
    int32_t in(const fb::Operator* op, size_t k) const {
        return op->inputs() && k < op->inputs()->size()
                   ? op->inputs()->Get(static_cast<flatbuffers::uoffset_t>(k))
                   : -1;
    }
    int32_t out(const fb::Operator* op, size_t k = 0) const {
        return op->outputs()->Get(static_cast<flatbuffers::uoffset_t>(k));
    }
    Outcome floatConst(int32_t index, std::vector<float>& values, Ints& dims, bool isWeight);
    Outcome intConst(int32_t index, Ints& values);
    Outcome dyn(int32_t index, std::string& node);
    Outcome perSample(int32_t index, Shape& shape) const;
    Outcome addNode(Node node, std::string& name);
    // Adds the fused activation (if any) after `node`, checks the declared output shape
    // and binds the operator's output tensor.
    Outcome finish(const fb::Operator* op, std::string node, fb::ActivationFunctionType act);
    Outcome activationOf(fb::ActivationFunctionType act, OpType& type, bool& any) const;

    Outcome convertConv(const fb::Operator* op, bool depthwise);
    Outcome convertFullyConnected(const fb::Operator* op);
    Outcome convertPool(const fb::Operator* op, bool isMax, const Ints& extraPads = {});
    Outcome convertMean(const fb::Operator* op);
    Outcome convertReshape(const fb::Operator* op);
    Outcome convertPad(const fb::Operator* op);
    Outcome convertDequantize(const fb::Operator* op);
    Outcome paddings(const fb::Operator* op, Ints& pads, Ints& channelPads);
    bool fuseAvgPoolRescale(size_t padOp, const Ints& pads, const std::string& src);

    std::span<const uint8_t> m_bytes;
    std::string m_source;
    const fb::Model* m_model = nullptr;
    const fb::SubGraph* m_sg = nullptr;
    importer::GraphBuilder m_builder;
    CoverageReport m_report;
    std::set<std::string> m_noteSet;
    std::vector<TValue> m_values;
    std::vector<std::vector<size_t>> m_readers; // tensor -> operators reading it
    std::set<int32_t> m_graphOutputs;           // the tensors being imported as outputs
    std::vector<int64_t> m_producer;            // tensor -> operator writing it (-1: none)
    std::set<size_t> m_live;                    // operators an imported output depends on
    int32_t m_mainOutput = -1;
    bool m_explicitOutput = false;
    std::set<size_t> m_fusedOps; // consumed by a pattern started at an earlier operator
    size_t m_opIndex = 0;
    std::string m_opType, m_opName;
    int m_dequantized = 0, m_dequantizedHalf = 0, m_fusedActivations = 0, m_channelPads = 0;
};

std::string TfliteImporter::opTypeName(const fb::Operator* op) const {
    const fb::OperatorCode* code = m_model->operator_codes()->Get(op->opcode_index());
    const fb::BuiltinOperator builtin = fb::builtinCode(*code);
    if (builtin == fb::BuiltinOperator_CUSTOM)
        return "CUSTOM:" + (code->custom_code() ? code->custom_code()->str() : std::string("?"));
    const char* name = fb::EnumNameBuiltinOperator(builtin);
    return name && *name ? name : "BUILTIN_" + std::to_string(static_cast<int>(builtin));
}

std::string TfliteImporter::opName(const fb::Operator* op, size_t index) const {
    if (op->outputs() && op->outputs()->size() > 0) {
        const int32_t o = out(op);
        if (o >= 0 && static_cast<flatbuffers::uoffset_t>(o) < m_sg->tensors()->size()) {
            const fb::Tensor* t = tensor(o);
            if (t->name() && t->name()->size())
                return t->name()->str();
        }
    }
    return "operator #" + std::to_string(index);
}

// Index ranges and execution order: every operator reads only constants, graph inputs
// and tensors written by earlier operators, and writes each tensor once.
Status TfliteImporter::checkStructure() {
    if (!m_sg->tensors())
        return error("subgraph 0 has no tensors");
    const auto tensorCount = static_cast<int64_t>(m_sg->tensors()->size());
    const auto codeCount = m_model->operator_codes() ? m_model->operator_codes()->size() : 0u;
    m_values.assign(static_cast<size_t>(tensorCount), TValue{});
    m_producer.assign(static_cast<size_t>(tensorCount), -1);
    std::vector<bool> available(static_cast<size_t>(tensorCount), false);
    auto checkIndex = [&](int32_t index, const std::string& what) -> Status {
        if (index < 0 || index >= tensorCount)
            return error(what + " refers to tensor " + std::to_string(index) + " of " +
                         std::to_string(tensorCount));
        return Status::ok();
    };
    for (int32_t i = 0; i < tensorCount; ++i) {
        const fb::Tensor* t = tensor(i);
        if (m_model->buffers() ? t->buffer() >= m_model->buffers()->size() : t->buffer() != 0)
            return error("tensor '" + tensorName(i) + "' refers to buffer " +
                         std::to_string(t->buffer()) + ", which does not exist");
        if (t->shape())
            for (int32_t d : *t->shape())
                if (d < -1)
                    return error("tensor '" + tensorName(i) + "' has a negative dimension " +
                                 std::to_string(d));
        std::span<const uint8_t> data;
        if (Outcome o = buffer(i, data); !o.isOk())
            return error(o.message);
        available[static_cast<size_t>(i)] = !data.empty();
    }
    if (m_sg->inputs())
        for (int32_t i : *m_sg->inputs()) {
            QAT_RETURN_IF_ERROR(checkIndex(i, "a subgraph input"));
            available[static_cast<size_t>(i)] = true;
        }
    if (!m_sg->outputs() || m_sg->outputs()->size() == 0)
        return error("subgraph 0 has no outputs");
    for (int32_t o : *m_sg->outputs())
        QAT_RETURN_IF_ERROR(checkIndex(o, "a subgraph output"));
    if (!m_sg->operators() || m_sg->operators()->size() == 0)
        return error("subgraph 0 has no operators");
    for (flatbuffers::uoffset_t k = 0; k < m_sg->operators()->size(); ++k) {
        const fb::Operator* op = m_sg->operators()->Get(k);
        const std::string label = "operator #" + std::to_string(k);
        if (op->opcode_index() >= codeCount)
            return error(label + " uses operator code " + std::to_string(op->opcode_index()) +
                         " of " + std::to_string(codeCount));
        if (!op->outputs() || op->outputs()->size() == 0)
            return error(label + " has no outputs");
        if (op->inputs())
            for (int32_t i : *op->inputs()) {
                if (i == -1)
                    continue; // an omitted optional input
                QAT_RETURN_IF_ERROR(checkIndex(i, label));
                if (!available[static_cast<size_t>(i)])
                    return error(label + " (" + opTypeName(op) + ") reads tensor '" +
                                 tensorName(i) +
                                 "' before any operator writes it (operators out of order, or "
                                 "a cycle)");
            }
        for (int32_t o : *op->outputs()) {
            QAT_RETURN_IF_ERROR(checkIndex(o, label));
            if (available[static_cast<size_t>(o)])
                return error(label + " (" + opTypeName(op) + ") writes tensor '" + tensorName(o) +
                             "', which is a constant, an input or written before");
            available[static_cast<size_t>(o)] = true;
            m_producer[static_cast<size_t>(o)] = k;
        }
    }
    for (int32_t o : *m_sg->outputs())
        if (!available[static_cast<size_t>(o)])
            return error("subgraph output '" + tensorName(o) + "' is never written");
    return Status::ok();
}

// The output(s) to import, the operators they depend on, and who reads what among those.
Status TfliteImporter::selectOutputs(const std::string& wanted) {
    std::vector<int32_t> targets;
    const auto tensorCount = static_cast<int32_t>(m_sg->tensors()->size());
    if (!wanted.empty()) {
        for (int32_t o : *m_sg->outputs())
            if (targets.empty() && tensorName(o) == wanted)
                targets.push_back(o);
        for (int32_t i = 0; i < tensorCount && targets.empty(); ++i)
            if (m_producer[static_cast<size_t>(i)] >= 0 && tensorName(i) == wanted)
                targets.push_back(i);
        if (targets.empty()) {
            std::string names;
            for (int32_t o : *m_sg->outputs())
                names += (names.empty() ? "'" : ", '") + tensorName(o) + "'";
            return error("no tensor named '" + wanted +
                         "' is written by an operator (the "
                         "model's outputs are " +
                         names + ")");
        }
        m_explicitOutput = true;
    } else {
        targets.assign(m_sg->outputs()->begin(), m_sg->outputs()->end());
    }
    m_mainOutput = targets[0];
    m_graphOutputs.insert(targets.begin(), targets.end());
    std::vector<int32_t> stack = targets;
    std::set<int32_t> seen;
    while (!stack.empty()) {
        const int32_t t = stack.back();
        stack.pop_back();
        if (!seen.insert(t).second)
            continue;
        const int64_t producer = m_producer[static_cast<size_t>(t)];
        if (producer < 0 || !m_live.insert(static_cast<size_t>(producer)).second)
            continue;
        const fb::Operator* op =
            m_sg->operators()->Get(static_cast<flatbuffers::uoffset_t>(producer));
        if (op->inputs())
            for (int32_t i : *op->inputs())
                if (i >= 0)
                    stack.push_back(i);
    }
    m_readers.assign(static_cast<size_t>(tensorCount), {});
    for (size_t k : m_live) {
        const fb::Operator* op = m_sg->operators()->Get(static_cast<flatbuffers::uoffset_t>(k));
        if (op->inputs())
            for (int32_t i : *op->inputs())
                if (i >= 0)
                    m_readers[static_cast<size_t>(i)].push_back(k);
    }
    return Status::ok();
}

Outcome TfliteImporter::buffer(int32_t index, std::span<const uint8_t>& data) const {
    data = {};
    const uint32_t b = tensor(index)->buffer();
    if (b == 0 || !m_model->buffers())
        return Outcome::ok();
    const fb::Buffer* buf = m_model->buffers()->Get(b);
    if (buf->data() && buf->data()->size() > 0) {
        data = {buf->data()->data(), buf->data()->size()};
    } else if (buf->offset() > 1 || buf->size() > 0) {
        // Models over 2 GB keep data after the flatbuffer; offsets count from the file start.
        if (buf->offset() > m_bytes.size() || buf->size() > m_bytes.size() - buf->offset())
            return Outcome::invalid(
                "buffer " + std::to_string(b) + " of tensor '" + tensorName(index) + "' (offset " +
                std::to_string(buf->offset()) + ", size " + std::to_string(buf->size()) +
                ") lies outside the " + std::to_string(m_bytes.size()) + "-byte file");
        data =
            m_bytes.subspan(static_cast<size_t>(buf->offset()), static_cast<size_t>(buf->size()));
    }
    return Outcome::ok();
}

bool TfliteImporter::isConstant(int32_t index) const {
    std::span<const uint8_t> data;
    return buffer(index, data).isOk() && !data.empty();
}

Outcome TfliteImporter::floatConst(int32_t index, std::vector<float>& values, Ints& dims,
                                   bool isWeight) {
    if (index < 0)
        return Outcome::invalid(where() + ": a required input is omitted");
    const TValue& v = m_values[static_cast<size_t>(index)];
    if (v.kind == TValue::Kind::Const) {
        values = v.f;
        dims = v.dims;
        return Outcome::ok();
    }
    const fb::Tensor* t = tensor(index);
    std::span<const uint8_t> data;
    QAT_TFL_TRY(buffer(index, data));
    if (data.empty())
        return Outcome::unsupported(quoted(tensorName(index)) +
                                    " must be a constant (weights computed at run time are "
                                    "not supported)");
    if (t->sparsity())
        return Outcome::unsupported(quoted(tensorName(index)) + " is a sparse tensor");
    dims = dimsOf(t);
    const fb::TensorType type = t->type();
    if (type != fb::TensorType_FLOAT32 && type != fb::TensorType_FLOAT16)
        return Outcome::unsupported(quoted(tensorName(index)) + " holds " + typeName(type) +
                                    (isWeight ? " weights (a quantized model; only float models, "
                                                "or FLOAT16/INT8 weights behind DEQUANTIZE, "
                                                "import)"
                                              : " data where float is expected"));
    const int64_t width = typeWidth(type);
    const auto count = boundedCount(dims, static_cast<int64_t>(data.size()) / width + 1);
    if (!count || *count * width != static_cast<int64_t>(data.size()))
        return Outcome::invalid("tensor '" + tensorName(index) + "' of shape " + intsText(dims) +
                                " has " + std::to_string(data.size()) + " bytes of " +
                                typeName(type) + " data");
    values.resize(static_cast<size_t>(*count));
    if (type == fb::TensorType_FLOAT32) {
        std::memcpy(values.data(), data.data(), data.size());
    } else {
        for (size_t k = 0; k < values.size(); ++k) {
            uint16_t h;
            std::memcpy(&h, data.data() + 2 * k, 2);
            values[k] = importer::halfToFloat(h);
        }
    }
    return Outcome::ok();
}

Outcome TfliteImporter::intConst(int32_t index, Ints& values) {
    if (index < 0)
        return Outcome::invalid(where() + ": a required input is omitted");
    const fb::Tensor* t = tensor(index);
    std::span<const uint8_t> data;
    QAT_TFL_TRY(buffer(index, data));
    if (data.empty())
        return Outcome::unsupported(quoted(tensorName(index)) +
                                    " must be a constant (computed at run time here)");
    const fb::TensorType type = t->type();
    if (type != fb::TensorType_INT32 && type != fb::TensorType_INT64)
        return Outcome::invalid("tensor '" + tensorName(index) + "' must be INT32 or INT64, not " +
                                typeName(type));
    const int64_t width = typeWidth(type);
    const auto count = boundedCount(dimsOf(t), static_cast<int64_t>(data.size()) / width + 1);
    if (!count || *count * width != static_cast<int64_t>(data.size()))
        return Outcome::invalid("tensor '" + tensorName(index) + "' of shape " +
                                intsText(dimsOf(t)) + " has " + std::to_string(data.size()) +
                                " bytes of data");
    values.resize(static_cast<size_t>(*count));
    for (size_t k = 0; k < values.size(); ++k) {
        if (width == 4) {
            int32_t v;
            std::memcpy(&v, data.data() + 4 * k, 4);
            values[k] = v;
        } else {
            std::memcpy(&values[k], data.data() + 8 * k, 8);
        }
    }
    return Outcome::ok();
}

Outcome TfliteImporter::dyn(int32_t index, std::string& node) {
    if (index < 0)
        return Outcome::invalid(where() + ": a required input is omitted");
    const TValue& v = m_values[static_cast<size_t>(index)];
    if (v.kind != TValue::Kind::Dyn)
        return Outcome::unsupported(quoted(tensorName(index)) +
                                    " is a constant where an activation is expected (operations "
                                    "on constants are not folded)");
    node = v.node;
    return Outcome::ok();
}

// The tensor's declared shape without the batch dimension.
Outcome TfliteImporter::perSample(int32_t index, Shape& shape) const {
    const fb::Tensor* t = tensor(index);
    Ints dims = dimsOf(t);
    if (dims.empty() || (dims[0] != 1 && dims[0] != -1))
        return Outcome::unsupported("tensor '" + tensorName(index) + "' has shape " +
                                    intsText(dims) + ", whose first dimension is not a batch of 1");
    shape.assign(dims.begin() + 1, dims.end());
    return Outcome::ok();
}

Outcome TfliteImporter::addNode(Node node, std::string& name) {
    auto added = m_builder.add(std::move(node));
    if (!added)
        return Outcome::invalid(where() + ": " + added.message());
    name = *added;
    return Outcome::ok();
}

Outcome TfliteImporter::activationOf(fb::ActivationFunctionType act, OpType& type,
                                     bool& any) const {
    any = act != fb::ActivationFunctionType_NONE;
    switch (act) {
    case fb::ActivationFunctionType_NONE:
        return Outcome::ok();
    case fb::ActivationFunctionType_RELU:
        type = OpType::ReLU;
        return Outcome::ok();
    case fb::ActivationFunctionType_RELU6:
        type = OpType::ReLU6;
        return Outcome::ok();
    case fb::ActivationFunctionType_TANH:
        type = OpType::Tanh;
        return Outcome::ok();
    default: {
        const char* name = fb::EnumNameActivationFunctionType(act);
        return Outcome::unsupported(std::string("fused activation ") +
                                    (name && *name ? name : "?") + " is not supported");
    }
    }
}

Outcome TfliteImporter::finish(const fb::Operator* op, std::string node,
                               fb::ActivationFunctionType act) {
    OpType type = OpType::ReLU;
    bool any = false;
    QAT_TFL_TRY(activationOf(act, type, any));
    if (any) {
        Node a;
        a.name = m_opName + "/" + qat::opTypeName(type);
        a.type = type;
        a.inputs = {node};
        QAT_TFL_TRY(addNode(std::move(a), node));
        ++m_fusedActivations;
    }
    const int32_t o = out(op);
    Shape declared;
    if (perSample(o, declared).isOk() &&
        std::all_of(declared.begin(), declared.end(), [](int64_t d) { return d > 0; }) &&
        declared != m_builder.shape(node))
        return Outcome::invalid(where() + ": declares output " + intsText(dimsOf(tensor(o))) +
                                " but its inputs give [1, " +
                                intsText(m_builder.shape(node)).substr(1));
    TValue& v = m_values[static_cast<size_t>(o)];
    v.kind = TValue::Kind::Dyn;
    v.node = std::move(node);
    return Outcome::ok();
}

Outcome TfliteImporter::setUpInput() {
    std::vector<int32_t> inputs;
    if (m_sg->inputs())
        for (int32_t i : *m_sg->inputs())
            if (!isConstant(i))
                inputs.push_back(i);
    if (inputs.empty())
        return Outcome::invalid("subgraph 0 has no (non-constant) input");
    for (size_t k = 1; k < inputs.size(); ++k) {
        m_report.unsupported.push_back(
            {tensorName(inputs[k]), "(graph input)",
             "only one model input is supported; the first is '" + tensorName(inputs[0]) + "'"});
        m_values[static_cast<size_t>(inputs[k])].kind = TValue::Kind::Poisoned;
    }
    const int32_t index = inputs[0];
    const fb::Tensor* t = tensor(index);
    TValue& v = m_values[static_cast<size_t>(index)];
    v.kind = TValue::Kind::Poisoned;
    ImportedTensor info;
    info.name = tensorName(index);
    info.fileShape = dimsOf(t);
    if (t->shape_signature() && t->shape_signature()->size() == info.fileShape.size())
        for (size_t k = 0; k < info.fileShape.size(); ++k)
            if (t->shape_signature()->Get(static_cast<flatbuffers::uoffset_t>(k)) == -1)
                info.fileShape[k] = -1;
    const size_t rank = info.fileShape.size();
    info.fileLayout = importer::fileLayoutName(rank, false);
    auto reject = [&](const std::string& why) {
        m_report.unsupported.push_back({info.name, "(graph input)", why});
        m_report.inputs.push_back(info);
        return Outcome::ok();
    };
    if (t->type() != fb::TensorType_FLOAT32)
        return reject("the input is " + typeName(t->type()) +
                      " (a quantized model); only FLOAT32 models import");
    if (rank != 4 && rank != 2)
        return reject("the input has rank " + std::to_string(rank) +
                      "; only [1,H,W,C] images and [1,F] vectors are supported");
    Shape shape;
    if (Outcome o = perSample(index, shape); !o.isOk())
        return reject(o.message);
    if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 1; }))
        return reject("the input has a dynamic non-batch dimension " + intsText(info.fileShape));
    Node node;
    node.name = info.name;
    node.type = OpType::Input;
    node.attrs.set("shape", AttrValue(shape));
    auto added = m_builder.add(std::move(node));
    if (!added)
        return Outcome::invalid("input '" + info.name + "' " + intsText(info.fileShape) + ": " +
                                added.message());
    v.kind = TValue::Kind::Dyn;
    v.node = *added;
    info.graphShape = shape;
    info.graphLayout = rank == 4 ? "HWC" : "F";
    m_report.inputs.push_back(info);
    return Outcome::ok();
}

bool isKnownOp(fb::BuiltinOperator op) {
    switch (op) {
    case fb::BuiltinOperator_CONV_2D:
    case fb::BuiltinOperator_DEPTHWISE_CONV_2D:
    case fb::BuiltinOperator_FULLY_CONNECTED:
    case fb::BuiltinOperator_ADD:
    case fb::BuiltinOperator_CONCATENATION:
    case fb::BuiltinOperator_MAX_POOL_2D:
    case fb::BuiltinOperator_AVERAGE_POOL_2D:
    case fb::BuiltinOperator_MEAN:
    case fb::BuiltinOperator_RESHAPE:
    case fb::BuiltinOperator_SQUEEZE:
    case fb::BuiltinOperator_SOFTMAX:
    case fb::BuiltinOperator_PAD:
    case fb::BuiltinOperator_PADV2:
    case fb::BuiltinOperator_RELU:
    case fb::BuiltinOperator_RELU6:
    case fb::BuiltinOperator_LOGISTIC:
    case fb::BuiltinOperator_TANH:
    case fb::BuiltinOperator_HARD_SWISH:
    case fb::BuiltinOperator_LEAKY_RELU:
    case fb::BuiltinOperator_DEQUANTIZE:
        return true;
    default:
        return false;
    }
}

std::string unknownOpReason(const std::string& name, fb::BuiltinOperator op) {
    switch (op) {
    case fb::BuiltinOperator_CUSTOM:
        return "custom operator '" + name.substr(7) + "' has no equivalent in the graph IR";
    case fb::BuiltinOperator_QUANTIZE:
        return "QUANTIZE: a quantized (integer) model; only float models import";
    case fb::BuiltinOperator_DENSIFY:
        return "DENSIFY: sparse weights are not supported; use the dense variant of the model";
    default:
        return name + " is not supported by the importer (no equivalent op in the graph IR)";
    }
}

// Checks that need no input values, so that operators downstream of an unsupported one
// are still reported when their own options are unsupported.
Outcome TfliteImporter::staticCheck(const fb::Operator* op) {
    for (int32_t o : *op->outputs())
        if (tensor(o)->type() != fb::TensorType_FLOAT32)
            return Outcome::unsupported("output '" + tensorName(o) + "' is " +
                                        typeName(tensor(o)->type()) +
                                        " (a quantized model); only float models import");
    const fb::BuiltinOperator code =
        fb::builtinCode(*m_model->operator_codes()->Get(op->opcode_index()));
    fb::ActivationFunctionType act = fb::ActivationFunctionType_NONE;
    switch (code) {
    case fb::BuiltinOperator_CONV_2D:
        if (const auto* o = op->builtin_options_as_Conv2DOptions())
            act = o->fused_activation_function();
        break;
    case fb::BuiltinOperator_DEPTHWISE_CONV_2D:
        if (const auto* o = op->builtin_options_as_DepthwiseConv2DOptions())
            act = o->fused_activation_function();
        break;
    case fb::BuiltinOperator_FULLY_CONNECTED:
        if (const auto* o = op->builtin_options_as_FullyConnectedOptions()) {
            act = o->fused_activation_function();
            if (o->weights_format() != fb::FullyConnectedOptionsWeightsFormat_DEFAULT)
                return Outcome::unsupported("shuffled FULLY_CONNECTED weights are not supported");
        }
        break;
    case fb::BuiltinOperator_ADD:
        if (const auto* o = op->builtin_options_as_AddOptions())
            act = o->fused_activation_function();
        break;
    case fb::BuiltinOperator_CONCATENATION:
        if (const auto* o = op->builtin_options_as_ConcatenationOptions())
            act = o->fused_activation_function();
        break;
    case fb::BuiltinOperator_MAX_POOL_2D:
    case fb::BuiltinOperator_AVERAGE_POOL_2D:
        if (const auto* o = op->builtin_options_as_Pool2DOptions())
            act = o->fused_activation_function();
        break;
    case fb::BuiltinOperator_SOFTMAX:
        if (const auto* o = op->builtin_options_as_SoftmaxOptions(); o && o->beta() != 1.0f)
            return Outcome::unsupported("SOFTMAX with beta " + std::to_string(o->beta()) +
                                        " is not supported (only beta 1)");
        break;
    default:
        break;
    }
    OpType type;
    bool any = false;
    return activationOf(act, type, any);
}

Outcome TfliteImporter::convertConv(const fb::Operator* op, bool depthwise) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    std::vector<float> w, b;
    Ints wDims, bDims;
    QAT_TFL_TRY(floatConst(in(op, 1), w, wDims, true));
    const bool hasBias = in(op, 2) >= 0;
    if (hasBias)
        QAT_TFL_TRY(floatConst(in(op, 2), b, bDims, true));
    const Shape& inShape = m_builder.shape(src);
    if (inShape.size() != 3)
        return Outcome::invalid(where() + ": input must be [1,H,W,C]");
    if (wDims.size() != 4 ||
        std::any_of(wDims.begin(), wDims.end(), [](int64_t d) { return d < 1; }))
        return Outcome::invalid(where() + ": filter shape " + intsText(wDims) + " is not 4-D");
    const int64_t channels = inShape[2];
    const int64_t cout = depthwise ? wDims[3] : wDims[0];
    if (hasBias && static_cast<int64_t>(b.size()) != cout)
        return Outcome::invalid(where() + ": bias has " + std::to_string(b.size()) +
                                " values for " + std::to_string(cout) + " output channels");
    Node node;
    node.name = m_opName;
    node.inputs = {src};
    node.attrs.set("kernel", AttrValue(Ints{wDims[1], wDims[2]}));
    fb::ActivationFunctionType act = fb::ActivationFunctionType_NONE;
    fb::Padding padding = fb::Padding_SAME;
    Ints strides, dilations;
    if (depthwise) {
        const auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
        if (!o)
            return Outcome::invalid(where() + ": DepthwiseConv2DOptions are missing");
        if (wDims[0] != 1 || cout % channels != 0)
            return Outcome::invalid(where() + ": filter " + intsText(wDims) + " does not fit " +
                                    std::to_string(channels) + " input channels");
        node.type = OpType::DepthwiseConv2D;
        node.attrs.set("depth_multiplier", AttrValue(cout / channels));
        act = o->fused_activation_function();
        padding = o->padding();
        strides = {o->stride_h(), o->stride_w()};
        dilations = {o->dilation_h_factor(), o->dilation_w_factor()};
    } else {
        const auto* o = op->builtin_options_as_Conv2DOptions();
        if (!o)
            return Outcome::invalid(where() + ": Conv2DOptions are missing");
        if (channels % wDims[3] != 0 || cout % (channels / wDims[3]) != 0)
            return Outcome::invalid(where() + ": filter " + intsText(wDims) + " does not fit " +
                                    std::to_string(channels) + " input channels");
        node.type = OpType::Conv2D;
        node.attrs.set("filters", AttrValue(cout));
        if (channels != wDims[3])
            node.attrs.set("groups", AttrValue(channels / wDims[3]));
        act = o->fused_activation_function();
        padding = o->padding();
        strides = {o->stride_h(), o->stride_w()};
        dilations = {o->dilation_h_factor(), o->dilation_w_factor()};
    }
    node.attrs.set("strides", AttrValue(strides));
    if (dilations != Ints{1, 1})
        node.attrs.set("dilations", AttrValue(dilations));
    node.attrs.set("padding", padding == fb::Padding_SAME ? "same" : "valid");
    node.attrs.set("use_bias", AttrValue(int64_t{hasBias ? 1 : 0}));
    node.params["weights"] = Tensor(wDims, std::move(w));
    if (hasBias)
        node.params["bias"] = Tensor({cout}, std::move(b));
    std::string name;
    QAT_TFL_TRY(addNode(std::move(node), name));
    return finish(op, name, act);
}

Outcome TfliteImporter::convertFullyConnected(const fb::Operator* op) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    std::vector<float> w, b;
    Ints wDims, bDims;
    QAT_TFL_TRY(floatConst(in(op, 1), w, wDims, true));
    const bool hasBias = in(op, 2) >= 0;
    if (hasBias)
        QAT_TFL_TRY(floatConst(in(op, 2), b, bDims, true));
    if (wDims.size() != 2 || wDims[0] < 1 || wDims[1] < 1)
        return Outcome::invalid(where() + ": weights " + intsText(wDims) + " are not [units, in]");
    const int64_t units = wDims[0], features = wDims[1];
    if (hasBias && static_cast<int64_t>(b.size()) != units)
        return Outcome::invalid(where() + ": bias has " + std::to_string(b.size()) +
                                " values for " + std::to_string(units) + " units");
    const auto* o = op->builtin_options_as_FullyConnectedOptions();
    Shape inShape = m_builder.shape(src);
    if (shapeSize(inShape) != features)
        return Outcome::unsupported(
            "FULLY_CONNECTED over " +
            std::to_string(shapeSize(inShape) / std::max<int64_t>(features, 1)) + " rows of a " +
            intsText(inShape) + " input is not supported (only one row per sample)");
    if (inShape.size() != 1) {
        if (o && o->keep_num_dims())
            return Outcome::unsupported("FULLY_CONNECTED with keep_num_dims on a rank-" +
                                        std::to_string(inShape.size() + 1) + " input");
        // TFLite flattens the input row-major, which is the graph's Flatten order.
        Node flat;
        flat.name = m_opName + "/flatten";
        flat.type = OpType::Flatten;
        flat.inputs = {src};
        QAT_TFL_TRY(addNode(std::move(flat), src));
    }
    Node node;
    node.name = m_opName;
    node.type = OpType::Dense;
    node.inputs = {src};
    node.attrs.set("units", AttrValue(units));
    node.attrs.set("use_bias", AttrValue(int64_t{hasBias ? 1 : 0}));
    node.params["weights"] = Tensor(wDims, std::move(w));
    if (hasBias)
        node.params["bias"] = Tensor({units}, std::move(b));
    std::string name;
    QAT_TFL_TRY(addNode(std::move(node), name));
    return finish(op, name, o ? o->fused_activation_function() : fb::ActivationFunctionType_NONE);
}

// `extraPads` [top,left,bottom,right]: explicit padding from a fused PADV2/PAD before it.
Outcome TfliteImporter::convertPool(const fb::Operator* op, bool isMax, const Ints& extraPads) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    const auto* o = op->builtin_options_as_Pool2DOptions();
    if (!o)
        return Outcome::invalid(where() + ": Pool2DOptions are missing");
    Node node;
    node.name = m_opName;
    node.type = isMax ? OpType::MaxPool : OpType::AvgPool;
    node.inputs = {src};
    node.attrs.set("pool", AttrValue(Ints{o->filter_height(), o->filter_width()}));
    node.attrs.set("strides", AttrValue(Ints{o->stride_h(), o->stride_w()}));
    if (!extraPads.empty()) {
        node.attrs.set("padding", "explicit");
        node.attrs.set("pads", AttrValue(extraPads));
    } else {
        node.attrs.set("padding", o->padding() == fb::Padding_SAME ? "same" : "valid");
    }
    std::string name;
    QAT_TFL_TRY(addNode(std::move(node), name));
    return finish(op, name, o->fused_activation_function());
}

Outcome TfliteImporter::convertMean(const fb::Operator* op) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    Ints axes;
    QAT_TFL_TRY(intConst(in(op, 1), axes));
    const Shape inShape = m_builder.shape(src);
    std::set<int64_t> normalized;
    for (int64_t a : axes)
        normalized.insert(a < 0 ? a + 4 : a);
    if (inShape.size() != 3 || normalized != std::set<int64_t>{1, 2})
        return Outcome::unsupported("MEAN over axes " + intsText(axes) + " of a rank-" +
                                    std::to_string(inShape.size() + 1) +
                                    " tensor is not supported (only over H and W of NHWC: "
                                    "global average pooling)");
    Node node;
    node.name = m_opName;
    node.type = OpType::GlobalAvgPool;
    node.inputs = {src};
    std::string name;
    QAT_TFL_TRY(addNode(std::move(node), name));
    const auto* o = op->builtin_options_as_ReducerOptions();
    if (o && o->keep_dims()) {
        Node keep;
        keep.name = m_opName + "/keep_dims";
        keep.type = OpType::Reshape;
        keep.inputs = {name};
        keep.attrs.set("shape", AttrValue(Ints{1, 1, inShape[2]}));
        QAT_TFL_TRY(addNode(std::move(keep), name));
    }
    return finish(op, name, fb::ActivationFunctionType_NONE);
}

// RESHAPE and SQUEEZE: the declared output shape (batch dropped) is the target.
Outcome TfliteImporter::convertReshape(const fb::Operator* op) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    Shape target;
    QAT_TFL_TRY(perSample(out(op), target));
    if (target.empty() ||
        std::any_of(target.begin(), target.end(), [](int64_t d) { return d < 1; }))
        return Outcome::unsupported("the output shape " + intsText(dimsOf(tensor(out(op)))) +
                                    " is dynamic or has no per-sample dimensions");
    const Shape inShape = m_builder.shape(src);
    if (shapeSize(target) != shapeSize(inShape))
        return Outcome::invalid(where() + ": cannot reshape " + intsText(inShape) + " to " +
                                intsText(target));
    if (target == inShape) {
        m_values[static_cast<size_t>(out(op))].kind = TValue::Kind::Dyn;
        m_values[static_cast<size_t>(out(op))].node = src;
        return Outcome::ok();
    }
    Node node;
    node.name = m_opName;
    node.inputs = {src};
    if (target.size() == 1) {
        node.type = OpType::Flatten;
    } else {
        node.type = OpType::Reshape;
        node.attrs.set("shape", AttrValue(target));
    }
    std::string name;
    QAT_TFL_TRY(addNode(std::move(node), name));
    return finish(op, name, fb::ActivationFunctionType_NONE);
}

// [top, left, bottom, right] and [before, after] channels from a [4,2] NHWC paddings
// constant (the batch must not be padded).
Outcome TfliteImporter::paddings(const fb::Operator* op, Ints& pads, Ints& channelPads) {
    Ints p;
    QAT_TFL_TRY(intConst(in(op, 1), p));
    if (p.size() != 8)
        return Outcome::unsupported("padding a rank-" + std::to_string(p.size() / 2) +
                                    " tensor is not supported (only [1,H,W,C])");
    if (std::any_of(p.begin(), p.end(), [](int64_t v) { return v < 0; }))
        return Outcome::invalid(where() + ": negative paddings " + intsText(p));
    if (p[0] || p[1])
        return Outcome::unsupported("padding the batch dimension " + intsText(p) +
                                    " is not supported");
    pads = {p[2], p[4], p[3], p[5]};
    channelPads = {p[6], p[7]};
    return Outcome::ok();
}

// QAT Lab's float exporter writes an AvgPool with explicit pads as PAD (zeros) +
// AVERAGE_POOL_2D VALID + MUL by kh*kw / in-bounds count per position. When the next two
// operators are exactly that, they import back as one AvgPool with explicit pads.
bool TfliteImporter::fuseAvgPoolRescale(size_t padOp, const Ints& pads, const std::string& src) {
    const auto* ops = m_sg->operators();
    auto soleReader = [&](int32_t tensorIndex, size_t& reader) {
        const auto& readers = m_readers[static_cast<size_t>(tensorIndex)];
        if (readers.size() != 1 || m_graphOutputs.count(tensorIndex))
            return false;
        reader = readers[0];
        return true;
    };
    size_t poolIndex = 0, mulIndex = 0;
    const fb::Operator* pad = ops->Get(static_cast<flatbuffers::uoffset_t>(padOp));
    if (!soleReader(out(pad), poolIndex))
        return false;
    const fb::Operator* pool = ops->Get(static_cast<flatbuffers::uoffset_t>(poolIndex));
    const auto* po = pool->builtin_options_as_Pool2DOptions();
    if (fb::builtinCode(*m_model->operator_codes()->Get(pool->opcode_index())) !=
            fb::BuiltinOperator_AVERAGE_POOL_2D ||
        !po || po->padding() != fb::Padding_VALID ||
        po->fused_activation_function() != fb::ActivationFunctionType_NONE ||
        in(pool, 0) != out(pad) || !soleReader(out(pool), mulIndex))
        return false;
    const fb::Operator* mul = ops->Get(static_cast<flatbuffers::uoffset_t>(mulIndex));
    if (fb::builtinCode(*m_model->operator_codes()->Get(mul->opcode_index())) !=
            fb::BuiltinOperator_MUL ||
        !mul->inputs() || mul->inputs()->size() != 2 || in(mul, 0) != out(pool))
        return false;
    const auto* mo = mul->builtin_options_as_MulOptions();
    if (mo && mo->fused_activation_function() != fb::ActivationFunctionType_NONE)
        return false;
    // The rescale the exporter computes for these pads and this window.
    Node probe;
    probe.name = "probe";
    probe.type = OpType::AvgPool;
    probe.attrs.set("pool", AttrValue(Ints{po->filter_height(), po->filter_width()}));
    probe.attrs.set("strides", AttrValue(Ints{po->stride_h(), po->stride_w()}));
    probe.attrs.set("padding", "explicit");
    probe.attrs.set("pads", AttrValue(pads));
    auto g = resolveGeometry(probe, m_builder.shape(src));
    if (!g || g->kh < 1 || g->kw < 1)
        return false;
    std::vector<float> factor;
    Ints dims;
    if (!floatConst(in(mul, 1), factor, dims, false).isOk() || dims != Ints{1, g->outH, g->outW, 1})
        return false;
    for (int64_t y = 0; y < g->outH; ++y)
        for (int64_t x = 0; x < g->outW; ++x) {
            const int64_t y0 = y * g->sh - g->padTop, x0 = x * g->sw - g->padLeft;
            const int64_t rows = std::min(y0 + g->kh, g->inH) - std::max<int64_t>(y0, 0);
            const int64_t cols = std::min(x0 + g->kw, g->inW) - std::max<int64_t>(x0, 0);
            const int64_t count = std::max<int64_t>(rows, 0) * std::max<int64_t>(cols, 0);
            const float want =
                count > 0 ? static_cast<float>(static_cast<double>(g->kh * g->kw) / count) : 0.0f;
            if (factor[static_cast<size_t>(y * g->outW + x)] != want)
                return false;
        }
    // Emit the AvgPool under the MUL's output and skip the two operators.
    m_opName = opName(mul, mulIndex);
    Node node;
    node.name = m_opName;
    node.type = OpType::AvgPool;
    node.inputs = {src};
    node.attrs = probe.attrs;
    std::string name;
    if (!addNode(std::move(node), name).isOk() ||
        !finish(mul, name, fb::ActivationFunctionType_NONE).isOk())
        return false;
    m_fusedOps.insert(poolIndex);
    m_fusedOps.insert(mulIndex);
    note("PAD + AVERAGE_POOL_2D + MUL (edge-count rescale) at '" + m_opName +
         "' imported as one AvgPool with explicit padding");
    return true;
}

Outcome TfliteImporter::convertPad(const fb::Operator* op) {
    std::string src;
    QAT_TFL_TRY(dyn(in(op, 0), src));
    Ints pads, channelPads;
    QAT_TFL_TRY(paddings(op, pads, channelPads));
    const bool padsChannels = channelPads[0] > 0 || channelPads[1] > 0;
    float value = 0.0f;
    if (in(op, 2) >= 0) {
        std::vector<float> v;
        Ints dims;
        QAT_TFL_TRY(floatConst(in(op, 2), v, dims, false));
        if (v.size() != 1)
            return Outcome::invalid(where() + ": the constant value must be one float");
        value = v[0];
    }
    const auto& readers = m_readers[static_cast<size_t>(out(op))];
    const fb::Operator* next =
        readers.size() == 1 && !m_graphOutputs.count(out(op))
            ? m_sg->operators()->Get(static_cast<flatbuffers::uoffset_t>(readers[0]))
            : nullptr;
    const fb::BuiltinOperator nextCode =
        next ? fb::builtinCode(*m_model->operator_codes()->Get(next->opcode_index()))
             : fb::BuiltinOperator_ADD;
    if (value <= -3.0e38f) {
        // PADV2 with the lowest float before a VALID MAX_POOL_2D: padding that never wins,
        // i.e. a MaxPool with explicit pads (what QAT Lab's exporter writes for those).
        const auto* po = next ? next->builtin_options_as_Pool2DOptions() : nullptr;
        if (!next || nextCode != fb::BuiltinOperator_MAX_POOL_2D || !po ||
            po->padding() != fb::Padding_VALID || in(next, 0) != out(op) || padsChannels)
            return Outcome::unsupported("padding with -FLT_MAX is only imported right before a "
                                        "VALID MAX_POOL_2D (as its explicit padding)");
        m_fusedOps.insert(readers[0]);
        m_opIndex = readers[0];
        m_opType = "MAX_POOL_2D";
        m_opName = opName(next, readers[0]);
        m_values[static_cast<size_t>(out(op))].kind = TValue::Kind::Dyn;
        m_values[static_cast<size_t>(out(op))].node = src;
        note("PADV2 (-FLT_MAX) + MAX_POOL_2D at '" + m_opName +
             "' imported as one MaxPool with explicit padding");
        return convertPool(next, true, pads);
    }
    if (value != 0.0f)
        return Outcome::unsupported("padding with " + std::to_string(value) +
                                    " is not supported (only zeros)");
    const bool padsSpace = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
    if (!padsSpace && !padsChannels) {
        m_values[static_cast<size_t>(out(op))].kind = TValue::Kind::Dyn;
        m_values[static_cast<size_t>(out(op))].node = src;
        return Outcome::ok();
    }
    if (!padsChannels && nextCode == fb::BuiltinOperator_AVERAGE_POOL_2D &&
        fuseAvgPoolRescale(m_opIndex, pads, src))
        return Outcome::ok();
    std::string name = src;
    if (padsSpace) {
        Node node;
        node.name = padsChannels ? m_opName + "/spatial" : m_opName;
        node.type = OpType::ZeroPad;
        node.inputs = {src};
        node.attrs.set("pads", AttrValue(pads));
        QAT_TFL_TRY(addNode(std::move(node), name));
    }
    if (padsChannels) {
        // Zero channels before/after (BlazeFace-style residual padding).
        const Shape& inShape = m_builder.shape(name);
        if (inShape.size() != 3)
            return Outcome::unsupported("channel padding of a rank-" +
                                        std::to_string(inShape.size() + 1) + " tensor");
        if (inShape[2] + channelPads[0] + channelPads[1] > importer::kMaxPaddedChannels)
            return Outcome::unsupported("channel padding to more than " +
                                        std::to_string(importer::kMaxPaddedChannels) +
                                        " channels is not supported");
        Node conv =
            importer::channelPadNode(m_opName, name, inShape[2], channelPads[0], channelPads[1]);
        QAT_TFL_TRY(addNode(std::move(conv), name));
        ++m_channelPads;
    }
    return finish(op, name, fb::ActivationFunctionType_NONE);
}

// DEQUANTIZE of a constant: FLOAT16 weights, or INT8/UINT8 with per-tensor or per-axis
// scales; the float32 values become a constant of the output tensor.
Outcome TfliteImporter::convertDequantize(const fb::Operator* op) {
    const int32_t src = in(op, 0);
    if (src < 0 || !isConstant(src))
        return Outcome::unsupported("DEQUANTIZE of an activation: a quantized model; only "
                                    "float models (with FLOAT16 or INT8 weights) import");
    const fb::Tensor* t = tensor(src);
    TValue& v = m_values[static_cast<size_t>(out(op))];
    if (t->type() == fb::TensorType_FLOAT16) {
        QAT_TFL_TRY(floatConst(src, v.f, v.dims, true));
        ++m_dequantizedHalf;
    } else if (t->type() == fb::TensorType_INT8 || t->type() == fb::TensorType_UINT8) {
        std::span<const uint8_t> data;
        QAT_TFL_TRY(buffer(src, data));
        v.dims = dimsOf(t);
        const auto count = boundedCount(v.dims, static_cast<int64_t>(data.size()) + 1);
        if (!count || *count != static_cast<int64_t>(data.size()))
            return Outcome::invalid("tensor '" + tensorName(src) + "' of shape " +
                                    intsText(v.dims) + " has " + std::to_string(data.size()) +
                                    " bytes");
        const auto* q = t->quantization();
        if (!q || !q->scale() || q->scale()->size() == 0)
            return Outcome::invalid("tensor '" + tensorName(src) + "' has no quantization scale");
        const size_t channels = q->scale()->size();
        const int64_t axis = q->quantized_dimension();
        int64_t inner = 1;
        if (channels > 1) {
            if (axis < 0 || axis >= static_cast<int64_t>(v.dims.size()) ||
                v.dims[static_cast<size_t>(axis)] != static_cast<int64_t>(channels))
                return Outcome::invalid("tensor '" + tensorName(src) +
                                        "': " + std::to_string(channels) +
                                        " scales do not match quantized_dimension " +
                                        std::to_string(axis) + " of " + intsText(v.dims));
            for (size_t d = static_cast<size_t>(axis) + 1; d < v.dims.size(); ++d)
                inner *= v.dims[d];
        }
        const bool isSigned = t->type() == fb::TensorType_INT8;
        v.f.resize(data.size());
        for (size_t k = 0; k < data.size(); ++k) {
            const size_t c = channels > 1 ? (k / static_cast<size_t>(inner)) % channels : 0;
            const float scale = q->scale()->Get(static_cast<flatbuffers::uoffset_t>(c));
            const int64_t zero = q->zero_point() && q->zero_point()->size() > c
                                     ? q->zero_point()->Get(static_cast<flatbuffers::uoffset_t>(c))
                                     : 0;
            const int32_t raw = isSigned ? static_cast<int8_t>(data[k]) : data[k];
            v.f[k] = scale * static_cast<float>(raw - zero);
        }
    } else {
        return Outcome::unsupported("DEQUANTIZE of " + typeName(t->type()) + " is not supported");
    }
    v.kind = TValue::Kind::Const;
    ++m_dequantized;
    return Outcome::ok();
}

Outcome TfliteImporter::convert(const fb::Operator* op) {
    const fb::BuiltinOperator code =
        fb::builtinCode(*m_model->operator_codes()->Get(op->opcode_index()));
    auto unary = [&](OpType type, Attrs attrs = {}) -> Outcome {
        std::string src;
        QAT_TFL_TRY(dyn(in(op, 0), src));
        Node node;
        node.name = m_opName;
        node.type = type;
        node.inputs = {src};
        node.attrs = std::move(attrs);
        std::string name;
        QAT_TFL_TRY(addNode(std::move(node), name));
        return finish(op, name, fb::ActivationFunctionType_NONE);
    };
    switch (code) {
    case fb::BuiltinOperator_CONV_2D:
        return convertConv(op, false);
    case fb::BuiltinOperator_DEPTHWISE_CONV_2D:
        return convertConv(op, true);
    case fb::BuiltinOperator_FULLY_CONNECTED:
        return convertFullyConnected(op);
    case fb::BuiltinOperator_MAX_POOL_2D:
        return convertPool(op, true);
    case fb::BuiltinOperator_AVERAGE_POOL_2D:
        return convertPool(op, false);
    case fb::BuiltinOperator_MEAN:
        return convertMean(op);
    case fb::BuiltinOperator_RESHAPE:
    case fb::BuiltinOperator_SQUEEZE:
        return convertReshape(op);
    case fb::BuiltinOperator_PAD:
    case fb::BuiltinOperator_PADV2:
        return convertPad(op);
    case fb::BuiltinOperator_DEQUANTIZE:
        return convertDequantize(op);
    case fb::BuiltinOperator_SOFTMAX:
        return unary(OpType::Softmax);
    case fb::BuiltinOperator_RELU:
        return unary(OpType::ReLU);
    case fb::BuiltinOperator_RELU6:
        return unary(OpType::ReLU6);
    case fb::BuiltinOperator_LOGISTIC:
        return unary(OpType::Sigmoid);
    case fb::BuiltinOperator_TANH:
        return unary(OpType::Tanh);
    case fb::BuiltinOperator_HARD_SWISH:
        return unary(OpType::HardSwish);
    case fb::BuiltinOperator_LEAKY_RELU: {
        const auto* o = op->builtin_options_as_LeakyReluOptions();
        Attrs attrs;
        attrs.set("alpha", static_cast<double>(o ? o->alpha() : 0.2f));
        return unary(OpType::LeakyReLU, std::move(attrs));
    }
    case fb::BuiltinOperator_ADD: {
        std::string a, b;
        QAT_TFL_TRY(dyn(in(op, 0), a));
        if (Outcome o = dyn(in(op, 1), b); !o.isOk())
            return Outcome::unsupported("ADD of a constant (a bias or broadcast shift) is not "
                                        "supported; only ADD of two activations");
        if (m_builder.shape(a) != m_builder.shape(b))
            return Outcome::unsupported("ADD with broadcasting (" + intsText(m_builder.shape(a)) +
                                        " + " + intsText(m_builder.shape(b)) +
                                        ") is not supported");
        Node node;
        node.name = m_opName;
        node.type = OpType::Add;
        node.inputs = {a, b};
        std::string name;
        QAT_TFL_TRY(addNode(std::move(node), name));
        const auto* o = op->builtin_options_as_AddOptions();
        return finish(op, name,
                      o ? o->fused_activation_function() : fb::ActivationFunctionType_NONE);
    }
    case fb::BuiltinOperator_CONCATENATION: {
        const auto* o = op->builtin_options_as_ConcatenationOptions();
        if (!o)
            return Outcome::invalid(where() + ": ConcatenationOptions are missing");
        Node node;
        node.name = m_opName;
        node.type = OpType::Concat;
        for (size_t k = 0; op->inputs() && k < op->inputs()->size(); ++k) {
            std::string src;
            if (Outcome r = dyn(in(op, k), src); !r.isOk())
                return Outcome::unsupported("CONCATENATION with a constant operand is not "
                                            "supported");
            node.inputs.push_back(src);
        }
        if (node.inputs.empty())
            return Outcome::invalid(where() + ": has no inputs");
        const auto rank = static_cast<int64_t>(m_builder.shape(node.inputs[0]).size()) + 1;
        int64_t axis = o->axis();
        if (axis < -rank || axis >= rank)
            return Outcome::invalid(where() + ": axis " + std::to_string(axis) +
                                    " is outside rank " + std::to_string(rank));
        if (axis < 0)
            axis += rank;
        if (axis == 0)
            return Outcome::unsupported("CONCATENATION over the batch dimension");
        node.attrs.set("axis", AttrValue(axis - 1));
        std::string name;
        QAT_TFL_TRY(addNode(std::move(node), name));
        return finish(op, name, o->fused_activation_function());
    }
    default:
        return Outcome::unsupported(unknownOpReason(opTypeName(op), code));
    }
}

Result<ImportResult> TfliteImporter::run(const ImportOptions& options) {
    if (m_bytes.size() < 8 || !fb::ModelBufferHasIdentifier(m_bytes.data()))
        return error("not a .tflite file (no TFL3 identifier)");
    if (m_bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE)
        return error("too large for a flatbuffer");
    flatbuffers::Verifier verifier(m_bytes.data(), m_bytes.size(), 64, 1000000);
    if (!fb::VerifyModelBuffer(verifier))
        return error("corrupt .tflite flatbuffer (an offset, vector or string points outside "
                     "the file, or the file is truncated)");
    m_model = fb::GetModel(m_bytes.data());
    m_report.format = ModelFormat::Tflite;
    m_report.source = m_source;
    if (m_model->description())
        m_report.producer = m_model->description()->str();
    if (m_model->version() != 3)
        return error("schema version " + std::to_string(m_model->version()) +
                     " is not supported (only version 3)");
    if (!m_model->subgraphs() || m_model->subgraphs()->size() == 0)
        return error("the model has no subgraphs");
    if (m_model->subgraphs()->size() > 1)
        note(std::to_string(m_model->subgraphs()->size()) +
             " subgraphs; only the first (the main graph) is imported");
    m_sg = m_model->subgraphs()->Get(0);
    QAT_RETURN_IF_ERROR(checkStructure());
    m_report.fileOps = m_sg->operators()->size();
    QAT_RETURN_IF_ERROR(selectOutputs(options.outputName));
    if (Outcome o = setUpInput(); o.kind == Outcome::Kind::Invalid)
        return error(o.message);
    if (const size_t skipped = m_sg->operators()->size() - m_live.size(); skipped > 0)
        note(std::to_string(skipped) +
             " operators that the imported output does not depend on were skipped");

    for (flatbuffers::uoffset_t k = 0; k < m_sg->operators()->size(); ++k) {
        if (m_fusedOps.count(k) || !m_live.count(k))
            continue;
        const fb::Operator* op = m_sg->operators()->Get(k);
        m_opIndex = k;
        m_opType = opTypeName(op);
        m_opName = opName(op, k);
        const std::string reportName = m_opName, reportType = m_opType;
        const fb::BuiltinOperator code =
            fb::builtinCode(*m_model->operator_codes()->Get(op->opcode_index()));
        Outcome o = isKnownOp(code) ? staticCheck(op)
                                    : Outcome::unsupported(unknownOpReason(m_opType, code));
        bool poisoned = false;
        if (o.isOk() && op->inputs())
            for (int32_t i : *op->inputs())
                poisoned = poisoned || (i >= 0 && m_values[static_cast<size_t>(i)].kind ==
                                                      TValue::Kind::Poisoned);
        if (o.isOk() && !poisoned)
            o = convert(op);
        if (o.kind == Outcome::Kind::Invalid)
            return error(o.message);
        if (o.kind == Outcome::Kind::Unsupported)
            m_report.unsupported.push_back({reportName, reportType, o.message});
        if (!o.isOk() || poisoned)
            for (int32_t i : *op->outputs())
                m_values[static_cast<size_t>(i)].kind = TValue::Kind::Poisoned;
    }

    // The model output.
    Graph graph;
    const int32_t output = m_mainOutput;
    for (flatbuffers::uoffset_t k = 1; !m_explicitOutput && k < m_sg->outputs()->size(); ++k)
        m_report.unsupported.push_back(
            {tensorName(m_sg->outputs()->Get(k)), "(graph output)",
             "only one model output is supported; choose one to import (e.g. '" +
                 tensorName(output) + "') with the output option (--output NAME)"});
    ImportedTensor info;
    info.name = tensorName(output);
    info.fileShape = dimsOf(tensor(output));
    info.fileLayout = importer::fileLayoutName(info.fileShape.size(), false);
    const TValue& v = m_values[static_cast<size_t>(output)];
    if (v.kind == TValue::Kind::Const || isConstant(output)) {
        m_report.unsupported.push_back({info.name, "(graph output)",
                                        "the output is a constant; the model does not depend "
                                        "on its input"});
    } else if (v.kind == TValue::Kind::Dyn) {
        info.graphShape = m_builder.shape(v.node);
        info.graphLayout = importer::graphLayoutName(info.graphShape.size());
        if (m_builder.find(v.node)->type == OpType::Input)
            m_report.unsupported.push_back(
                {info.name, "(graph output)", "the output is the model input itself"});
        graph.output = v.node;
    }
    m_report.outputs.push_back(info);
    if (m_dequantizedHalf > 0)
        note(std::to_string(m_dequantizedHalf) +
             " FLOAT16 weight tensors (behind DEQUANTIZE) were converted to float32");
    if (m_dequantized > m_dequantizedHalf)
        note(std::to_string(m_dequantized - m_dequantizedHalf) +
             " INT8/UINT8 weight tensors (behind DEQUANTIZE) were dequantized to float32");
    if (m_channelPads > 0)
        note(std::to_string(m_channelPads) +
             " PADs of the channel dimension became 1x1 Conv2D layers (identity weights, zero "
             "channels added)");
    if (m_fusedActivations > 0)
        note(std::to_string(m_fusedActivations) +
             " fused activations became activation nodes after their operators");
    if (!m_report.unsupported.empty()) {
        importer::markNotImported(m_report, options);
        ImportResult result;
        result.report = std::move(m_report);
        return result;
    }
    const std::string outputNode = graph.output;
    graph = m_builder.take();
    graph.output = outputNode;
    auto result = importer::finishImport(std::move(graph), std::move(m_report), options);
    if (!result)
        return result.status().withContext(m_source);
    return result;
}

} // namespace

Result<ImportResult> importTfliteBytes(std::span<const uint8_t> bytes,
                                       const std::string& sourceName,
                                       const ImportOptions& options) {
    try {
        // The verifier checks alignment relative to the buffer start; give it an aligned copy
        // when the caller's bytes are not.
        std::vector<uint8_t> aligned;
        if (reinterpret_cast<uintptr_t>(bytes.data()) % 16 != 0) {
            aligned.assign(bytes.begin(), bytes.end());
            bytes = aligned;
        }
        return TfliteImporter(bytes, sourceName).run(options);
    } catch (const std::bad_alloc&) {
        return Status::error(sourceName + ": out of memory while importing");
    } catch (const std::exception& e) {
        return Status::error(sourceName + ": import failed: " + e.what());
    }
}

} // namespace qat
