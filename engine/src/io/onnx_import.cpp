// ONNX import (qat/importers.h): ModelProto -> graph IR.
// Every ONNX tensor becomes one of: a constant (initializers, Constant nodes and whatever
// folds from them, including Shape of a known-shape tensor with the symbolic batch size
// tracked per element), an activation produced by a graph node, or "poisoned" (downstream
// of an unsupported node: its own op type and attributes are still checked, its shapes are
// not). Activations remember how the graph's NHWC tensor relates to ONNX's NCHW one:
//   Chw     ONNX [N,C,H,W]  graph [H,W,C]
//   Flat    ONNX [N,F]      graph [F], element k of the graph is ONNX element perm[k]
//                           (a flattened NCHW map; identity when perm is empty)
//   Pooled  ONNX [N,C,1,1]  graph [C] (GlobalAveragePool output)
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "io/import_support.h"
#include "qat/importers.h"

namespace qat {

namespace {

using importer::boundedCount;
using importer::GraphBuilder;
using Ints = std::vector<int64_t>;

// Folded constants may allocate this many elements plus a multiple of the file size.
constexpr int64_t kFoldBudgetBase = int64_t{1} << 20;
constexpr int64_t kFoldBudgetPerByte = 4;

struct Const {
    bool isFloat = true;
    Ints dims;
    std::vector<float> f;
    Ints i;
    // Integer constants only: 1 where the element is the batch size (Shape of an
    // activation), so that Reshape targets can tell "keep the batch" from a literal.
    std::vector<uint8_t> batch;

    int64_t size() const { return static_cast<int64_t>(isFloat ? f.size() : i.size()); }
    bool hasBatch() const {
        return std::any_of(batch.begin(), batch.end(), [](uint8_t b) { return b != 0; });
    }
};

enum class Layout { Chw, Flat, Pooled };

struct Dyn {
    std::string node; // graph node producing it
    Layout layout = Layout::Chw;
    Ints perm; // Flat only
    // Set when produced by a MatMul (a Dense without bias) whose output feeds exactly one
    // node, so that a following Add of a constant can become its bias.
    bool biasless = false;
};

struct Value {
    enum class Kind { Const, Dyn, Poisoned } kind = Kind::Poisoned;
    Const c;
    Dyn d;
};

struct Outcome {
    enum class Kind { Ok, Unsupported, Invalid } kind = Kind::Ok;
    std::string message;
    static Outcome ok() { return {}; }
    static Outcome unsupported(std::string m) { return {Kind::Unsupported, std::move(m)}; }
    static Outcome invalid(std::string m) { return {Kind::Invalid, std::move(m)}; }
    bool isOk() const { return kind == Kind::Ok; }
};

#define QAT_ONNX_TRY(expr)                                                                         \
    do {                                                                                           \
        Outcome qatOutcome_ = (expr);                                                              \
        if (!qatOutcome_.isOk())                                                                   \
            return qatOutcome_;                                                                    \
    } while (0)

std::string intsText(const Ints& v) {
    std::string s = "[";
    for (size_t k = 0; k < v.size(); ++k) {
        if (k)
            s += ", ";
        s += std::to_string(v[k]);
    }
    return s + "]";
}

const char* dataTypeName(int type) {
    switch (type) {
    case onnx::TensorProto::FLOAT:
        return "FLOAT";
    case onnx::TensorProto::UINT8:
        return "UINT8";
    case onnx::TensorProto::INT8:
        return "INT8";
    case onnx::TensorProto::UINT16:
        return "UINT16";
    case onnx::TensorProto::INT16:
        return "INT16";
    case onnx::TensorProto::INT32:
        return "INT32";
    case onnx::TensorProto::INT64:
        return "INT64";
    case onnx::TensorProto::STRING:
        return "STRING";
    case onnx::TensorProto::BOOL:
        return "BOOL";
    case onnx::TensorProto::FLOAT16:
        return "FLOAT16";
    case onnx::TensorProto::DOUBLE:
        return "DOUBLE";
    case onnx::TensorProto::UINT32:
        return "UINT32";
    case onnx::TensorProto::UINT64:
        return "UINT64";
    case onnx::TensorProto::BFLOAT16:
        return "BFLOAT16";
    default:
        return "an unknown type";
    }
}

bool isFloatType(int64_t type) {
    return type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::FLOAT16 ||
           type == onnx::TensorProto::DOUBLE || type == onnx::TensorProto::BFLOAT16;
}

bool isIntType(int64_t type) {
    switch (type) {
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
        return true;
    default:
        return false;
    }
}

template <typename T> T readLe(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Decodes a TensorProto's data into a float or integer constant. The element count must
// match the data present, so nothing larger than the file is ever allocated.
Outcome decodeTensor(const onnx::TensorProto& t, const std::string& what, Const& out) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
        return Outcome::unsupported(what + " keeps its data in an external file; re-export the "
                                           "model with the weights embedded");
    if (t.has_segment())
        return Outcome::unsupported(what + " is a segmented tensor");
    out.dims.assign(t.dims().begin(), t.dims().end());
    const auto count = boundedCount(out.dims, int64_t{1} << 40);
    if (!count)
        return Outcome::invalid(what + ": invalid dimensions " + intsText(out.dims));
    const int64_t n = *count;
    const std::string& raw = t.raw_data();
    const int type = t.data_type();
    auto width = [&]() -> int64_t {
        switch (type) {
        case onnx::TensorProto::FLOAT:
        case onnx::TensorProto::INT32:
        case onnx::TensorProto::UINT32:
            return 4;
        case onnx::TensorProto::DOUBLE:
        case onnx::TensorProto::INT64:
        case onnx::TensorProto::UINT64:
            return 8;
        case onnx::TensorProto::FLOAT16:
        case onnx::TensorProto::BFLOAT16:
        case onnx::TensorProto::INT16:
        case onnx::TensorProto::UINT16:
            return 2;
        case onnx::TensorProto::INT8:
        case onnx::TensorProto::UINT8:
        case onnx::TensorProto::BOOL:
            return 1;
        default:
            return 0;
        }
    }();
    if (width == 0)
        return Outcome::unsupported(what + " has data type " + dataTypeName(type));
    const bool useRaw = !raw.empty();
    int64_t present = 0;
    if (useRaw) {
        if (static_cast<int64_t>(raw.size()) % width != 0)
            return Outcome::invalid(what + ": raw_data of " + std::to_string(raw.size()) +
                                    " bytes is not a whole number of " + dataTypeName(type) +
                                    " elements");
        present = static_cast<int64_t>(raw.size()) / width;
    } else if (type == onnx::TensorProto::FLOAT) {
        present = t.float_data_size();
    } else if (type == onnx::TensorProto::DOUBLE) {
        present = t.double_data_size();
    } else if (type == onnx::TensorProto::INT64) {
        present = t.int64_data_size();
    } else if (type == onnx::TensorProto::UINT32 || type == onnx::TensorProto::UINT64) {
        present = t.uint64_data_size();
    } else {
        present = t.int32_data_size();
    }
    if (present != n)
        return Outcome::invalid(what + ": dimensions " + intsText(out.dims) + " need " +
                                std::to_string(n) + " elements but the tensor holds " +
                                std::to_string(present));
    const auto un = static_cast<size_t>(n);
    out.isFloat = isFloatType(type);
    if (out.isFloat)
        out.f.resize(un);
    else
        out.i.resize(un);
    for (size_t k = 0; k < un; ++k) {
        const char* p = useRaw ? raw.data() + k * static_cast<size_t>(width) : nullptr;
        const int ik = static_cast<int>(k);
        switch (type) {
        case onnx::TensorProto::FLOAT:
            out.f[k] = useRaw ? readLe<float>(p) : t.float_data(ik);
            break;
        case onnx::TensorProto::DOUBLE:
            out.f[k] = static_cast<float>(useRaw ? readLe<double>(p) : t.double_data(ik));
            break;
        case onnx::TensorProto::FLOAT16:
            out.f[k] = importer::halfToFloat(useRaw ? readLe<uint16_t>(p)
                                                    : static_cast<uint16_t>(t.int32_data(ik)));
            break;
        case onnx::TensorProto::BFLOAT16: {
            const uint32_t bits =
                static_cast<uint32_t>(useRaw ? readLe<uint16_t>(p)
                                             : static_cast<uint16_t>(t.int32_data(ik)))
                << 16;
            std::memcpy(&out.f[k], &bits, sizeof bits);
            break;
        }
        case onnx::TensorProto::INT64:
            out.i[k] = useRaw ? readLe<int64_t>(p) : t.int64_data(ik);
            break;
        case onnx::TensorProto::UINT64:
            out.i[k] = static_cast<int64_t>(useRaw ? readLe<uint64_t>(p) : t.uint64_data(ik));
            break;
        case onnx::TensorProto::UINT32:
            out.i[k] = useRaw ? readLe<uint32_t>(p) : static_cast<int64_t>(t.uint64_data(ik));
            break;
        case onnx::TensorProto::INT32:
            out.i[k] = useRaw ? readLe<int32_t>(p) : t.int32_data(ik);
            break;
        case onnx::TensorProto::INT16:
            out.i[k] = useRaw ? readLe<int16_t>(p) : t.int32_data(ik);
            break;
        case onnx::TensorProto::UINT16:
            out.i[k] = useRaw ? readLe<uint16_t>(p) : t.int32_data(ik);
            break;
        case onnx::TensorProto::INT8:
            out.i[k] = useRaw ? readLe<int8_t>(p) : t.int32_data(ik);
            break;
        case onnx::TensorProto::UINT8:
            out.i[k] = useRaw ? readLe<uint8_t>(p) : t.int32_data(ik);
            break;
        case onnx::TensorProto::BOOL:
            out.i[k] = (useRaw ? readLe<uint8_t>(p) : t.int32_data(ik)) != 0;
            break;
        default:
            break;
        }
    }
    if (!out.isFloat)
        out.batch.assign(un, 0);
    return Outcome::ok();
}

const onnx::AttributeProto* findAttr(const onnx::NodeProto& node, const std::string& name) {
    for (const auto& a : node.attribute())
        if (a.name() == name)
            return &a;
    return nullptr;
}

int64_t attrInt(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
    const auto* a = findAttr(node, name);
    return a ? a->i() : fallback;
}

float attrFloat(const onnx::NodeProto& node, const std::string& name, float fallback) {
    const auto* a = findAttr(node, name);
    return a ? a->f() : fallback;
}

std::string attrString(const onnx::NodeProto& node, const std::string& name,
                       const std::string& fallback) {
    const auto* a = findAttr(node, name);
    return a ? a->s() : fallback;
}

std::optional<Ints> attrInts(const onnx::NodeProto& node, const std::string& name) {
    const auto* a = findAttr(node, name);
    if (!a)
        return std::nullopt;
    return Ints(a->ints().begin(), a->ints().end());
}

// Row-major strides of `dims`.
Ints stridesOf(const Ints& dims) {
    Ints s(dims.size(), 1);
    for (size_t k = dims.size(); k-- > 1;)
        s[k - 1] = s[k] * dims[k];
    return s;
}

// out[k] = in[map(k)] for every output element; carries float values, ints and batch flags.
Const remap(const Const& in, Ints outDims, int64_t outCount,
            const std::function<int64_t(int64_t)>& map) {
    Const out;
    out.isFloat = in.isFloat;
    out.dims = std::move(outDims);
    const auto n = static_cast<size_t>(outCount);
    if (in.isFloat) {
        out.f.resize(n);
        for (size_t k = 0; k < n; ++k)
            out.f[k] = in.f[static_cast<size_t>(map(static_cast<int64_t>(k)))];
    } else {
        out.i.resize(n);
        out.batch.resize(n);
        for (size_t k = 0; k < n; ++k) {
            const auto src = static_cast<size_t>(map(static_cast<int64_t>(k)));
            out.i[k] = in.i[src];
            out.batch[k] = in.batch[src];
        }
    }
    return out;
}

class OnnxImporter {
public:
    OnnxImporter(const onnx::ModelProto& model, std::string source, size_t fileBytes)
        : m_model(model), m_graph(model.graph()), m_source(std::move(source)),
          m_foldBudget(kFoldBudgetBase + kFoldBudgetPerByte * static_cast<int64_t>(std::min<size_t>(
                                                                  fileBytes, size_t{1} << 40))) {}

    Result<ImportResult> run(const ImportOptions& options);

private:
    Status error(const std::string& message) const {
        return Status::error(m_source + ": " + message);
    }
    std::string nodeLabel(size_t index) const {
        const auto& n = m_graph.node(static_cast<int>(index));
        if (!n.name().empty())
            return n.name();
        if (n.output_size() > 0 && !n.output(0).empty())
            return n.output(0);
        return "node #" + std::to_string(index);
    }
    static std::string opKey(const onnx::NodeProto& n) {
        if (n.domain().empty() || n.domain() == "ai.onnx")
            return n.op_type();
        return n.domain() + "::" + n.op_type();
    }
    std::string where() const { return "node '" + m_nodeName + "' (" + m_opType + ")"; }
    void note(const std::string& text) {
        if (m_noteSet.insert(text).second)
            m_report.notes.push_back(text);
    }
    void addUnsupported(const std::string& node, const std::string& type, const std::string& why) {
        m_report.unsupported.push_back({node, type, why});
    }
    void poisonOutputs(const onnx::NodeProto& n) {
        for (const auto& out : n.output())
            if (!out.empty())
                m_values[out] = Value{};
    }
    bool usesOutput(const onnx::NodeProto& n, int k) const {
        return n.output_size() > k && !n.output(k).empty() &&
               (m_consumers.count(n.output(k)) || m_graphOutputs.count(n.output(k)));
    }

    Status collectInitializers();
    Status sortNodes(std::vector<size_t>& order);
    Status selectOutputs(const std::string& wanted);
    Outcome setUpInput();
    void findHardSwishPatterns();
    Outcome staticCheck(const onnx::NodeProto& n);
    Outcome convert(const onnx::NodeProto& n);
    Outcome fold(const onnx::NodeProto& n);
    Status checkOutput(Graph& graph);

    // Values. get() decodes initializers on first use; `out` is nullptr for a tensor that
    // has no value (yet).
    Outcome get(const std::string& name, const Value*& out);
    // Operand k, which must be present: `out` is set whenever the outcome is ok.
    Outcome input(const onnx::NodeProto& n, int k, const Value*& out);
    static bool hasInput(const onnx::NodeProto& n, int k) {
        return k < n.input_size() && !n.input(k).empty();
    }
    Outcome constInput(const onnx::NodeProto& n, int k, const Const*& out, bool optional = false);
    Outcome floatInput(const onnx::NodeProto& n, int k, const Const*& out, bool optional = false);
    Outcome dynInput(const onnx::NodeProto& n, int k, Dyn& out);
    Outcome setConst(const onnx::NodeProto& n, Const c);
    void setDyn(const onnx::NodeProto& n, Dyn d) {
        Value v;
        v.kind = Value::Kind::Dyn;
        v.d = std::move(d);
        m_values[n.output(0)] = std::move(v);
    }
    Outcome charge(int64_t elements);
    bool allInputsConst(const onnx::NodeProto& n);

    // Activations.
    Ints onnxDims(const Dyn& d) const;
    Outcome asChw(Dyn& d);
    Outcome asFlat(Dyn& d);
    Outcome addNode(Node node, std::string& name);
    Outcome emitUnary(const onnx::NodeProto& n, OpType type, Attrs attrs = {});

    // Converters.
    Outcome windowPads(const onnx::NodeProto& n, const Shape& in, const Ints& kernel,
                       const Ints& strides, const Ints& dilations, Ints& pads);
    Outcome convertConv(const onnx::NodeProto& n);
    Outcome convertPool(const onnx::NodeProto& n, bool isMax);
    Outcome convertGemm(const onnx::NodeProto& n, bool isMatMul);
    Outcome convertBatchNorm(const onnx::NodeProto& n);
    Outcome convertAdd(const onnx::NodeProto& n);
    Outcome convertConcat(const onnx::NodeProto& n);
    Outcome convertFlatten(const onnx::NodeProto& n);
    Outcome convertReshape(const onnx::NodeProto& n);
    Outcome flattenTo(const onnx::NodeProto& n, Dyn d);
    Outcome convertSoftmax(const onnx::NodeProto& n);
    Outcome convertPad(const onnx::NodeProto& n);
    Outcome convertGlobalPool(const onnx::NodeProto& n);
    Outcome clipBounds(const onnx::NodeProto& n, float& lo, float& hi);

    // Constant folding.
    Outcome foldBinary(const onnx::NodeProto& n, Const& out);
    Outcome foldSlice(const onnx::NodeProto& n, const Const& data, Const& out);
    Outcome foldConcat(const onnx::NodeProto& n, Const& out);
    Outcome foldReshape(const onnx::NodeProto& n, const Const& data, Const& out);
    Outcome axesOf(const onnx::NodeProto& n, int inputIndex, std::optional<Ints>& axes);
    Outcome resolveReshape(const Ints& in, const Const& target, bool allowZero, Ints& out);

    const onnx::ModelProto& m_model;
    const onnx::GraphProto& m_graph;
    std::string m_source;
    int64_t m_opset = 1;
    int64_t m_foldBudget;
    GraphBuilder m_builder;
    CoverageReport m_report;
    std::set<std::string> m_noteSet;
    std::unordered_map<std::string, const onnx::TensorProto*> m_initializers;
    std::unordered_map<std::string, Value> m_values;
    std::unordered_map<std::string, int> m_consumers; // tensor -> number of reading nodes
    std::set<std::string> m_graphOutputs;             // the tensors being imported as outputs
    std::unordered_map<std::string, size_t> m_producer;
    std::set<size_t> m_live; // nodes an imported output depends on
    std::string m_mainOutput;
    bool m_explicitOutput = false;
    std::set<size_t> m_fusedAway;                          // HardSigmoids inside a HardSwish
    std::unordered_map<size_t, std::string> m_hardSwishOf; // Mul node -> its x
    std::unordered_map<std::string, std::string> m_hwcOf;  // Pooled node -> [1,1,C] reshape
    int64_t m_fixedBatch = 0;                              // 0 = symbolic batch
    std::string m_nodeName, m_opType;
    size_t m_nodeIndex = 0;
    std::map<std::string, int> m_folded; // op type -> nodes folded into constants
    int m_elided = 0;
};

Status OnnxImporter::collectInitializers() {
    for (const auto& t : m_graph.initializer()) {
        if (t.name().empty())
            return error("an initializer has no name");
        if (!m_initializers.emplace(t.name(), &t).second)
            return error("initializer '" + t.name() + "' is defined twice");
    }
    return Status::ok();
}

// Kahn's algorithm over tensor names, keeping file order among ready nodes. Every input
// must come from a graph input, an initializer or exactly one node; nodes that never
// become ready are on a cycle.
Status OnnxImporter::sortNodes(std::vector<size_t>& order) {
    const auto count = static_cast<size_t>(m_graph.node_size());
    std::unordered_map<std::string, size_t> producer;
    std::set<std::string> available;
    for (const auto& in : m_graph.input())
        available.insert(in.name());
    for (const auto& entry : m_initializers)
        available.insert(entry.first);
    for (size_t k = 0; k < count; ++k)
        for (const auto& out : m_graph.node(static_cast<int>(k)).output()) {
            if (out.empty())
                continue;
            if (available.count(out))
                return error("node '" + nodeLabel(k) + "' writes '" + out +
                             "', which is already a graph input or initializer");
            if (auto [it, fresh] = producer.emplace(out, k); !fresh)
                return error("tensor '" + out + "' is written by two nodes ('" +
                             nodeLabel(it->second) + "' and '" + nodeLabel(k) + "')");
        }
    std::vector<int> pending(count, 0);
    std::vector<std::vector<size_t>> dependents(count);
    for (size_t k = 0; k < count; ++k) {
        const auto& n = m_graph.node(static_cast<int>(k));
        for (const auto& in : n.input()) {
            if (in.empty())
                continue; // an omitted optional input
            if (available.count(in))
                continue;
            auto it = producer.find(in);
            if (it == producer.end())
                return error("node '" + nodeLabel(k) + "' (" + opKey(n) + ") reads '" + in +
                             "', which no node, initializer or graph input provides (a missing "
                             "initializer?)");
            ++pending[k];
            dependents[it->second].push_back(k);
        }
    }
    std::set<size_t> ready;
    for (size_t k = 0; k < count; ++k)
        if (pending[k] == 0)
            ready.insert(k);
    while (!ready.empty()) {
        const size_t k = *ready.begin();
        ready.erase(ready.begin());
        order.push_back(k);
        for (size_t d : dependents[k])
            if (--pending[d] == 0)
                ready.insert(d);
    }
    if (order.size() != count) {
        std::string names;
        int listed = 0;
        for (size_t k = 0; k < count && listed < 5; ++k)
            if (pending[k] > 0)
                names += (listed++ ? ", '" : "'") + nodeLabel(k) + "'";
        return error("the graph has a cycle; " + std::to_string(count - order.size()) +
                     " nodes can never run (" + names +
                     (count - order.size() > 5 ? ", ...)" : ")"));
    }
    for (const auto& out : m_graph.output())
        if (!available.count(out.name()) && !producer.count(out.name()))
            return error("graph output '" + out.name() + "' is not produced by any node");
    m_producer = std::move(producer);
    return Status::ok();
}

// The output(s) to import and the nodes they depend on; consumer counts cover those nodes.
Status OnnxImporter::selectOutputs(const std::string& wanted) {
    std::vector<std::string> targets;
    if (!wanted.empty()) {
        const bool declared = std::any_of(m_graph.output().begin(), m_graph.output().end(),
                                          [&](const auto& o) { return o.name() == wanted; });
        if (!declared && !m_producer.count(wanted)) {
            std::string names;
            for (const auto& o : m_graph.output())
                names += (names.empty() ? "'" : ", '") + o.name() + "'";
            return error("no tensor named '" + wanted +
                         "' to import as the output (the model's "
                         "outputs are " +
                         names + ")");
        }
        targets = {wanted};
        m_explicitOutput = true;
    } else {
        for (const auto& o : m_graph.output())
            targets.push_back(o.name());
    }
    if (targets.empty())
        return error("the graph declares no output");
    m_mainOutput = targets[0];
    m_graphOutputs.insert(targets.begin(), targets.end());
    std::vector<std::string> stack = targets;
    std::set<std::string> seen;
    while (!stack.empty()) {
        const std::string name = stack.back();
        stack.pop_back();
        if (!seen.insert(name).second)
            continue;
        auto it = m_producer.find(name);
        if (it == m_producer.end() || !m_live.insert(it->second).second)
            continue;
        for (const auto& in : m_graph.node(static_cast<int>(it->second)).input())
            if (!in.empty())
                stack.push_back(in);
    }
    for (size_t k : m_live)
        for (const auto& in : m_graph.node(static_cast<int>(k)).input())
            if (!in.empty())
                ++m_consumers[in];
    return Status::ok();
}

Outcome OnnxImporter::charge(int64_t elements) {
    if (elements < 0 || elements > m_foldBudget)
        return Outcome::invalid(where() +
                                ": folding constants would allocate more elements than a file "
                                "of this size can hold");
    m_foldBudget -= elements;
    return Outcome::ok();
}

Outcome OnnxImporter::get(const std::string& name, const Value*& out) {
    out = nullptr;
    if (auto it = m_values.find(name); it != m_values.end()) {
        out = &it->second;
        return Outcome::ok();
    }
    auto init = m_initializers.find(name);
    if (init == m_initializers.end())
        return Outcome::ok();
    Value v;
    v.kind = Value::Kind::Const;
    QAT_ONNX_TRY(decodeTensor(*init->second, "initializer '" + name + "'", v.c));
    QAT_ONNX_TRY(charge(v.c.size()));
    out = &(m_values[name] = std::move(v));
    return Outcome::ok();
}

Outcome OnnxImporter::input(const onnx::NodeProto& n, int k, const Value*& out) {
    out = nullptr;
    if (!hasInput(n, k))
        return Outcome::invalid(where() + ": input " + std::to_string(k) + " is missing");
    QAT_ONNX_TRY(get(n.input(k), out));
    if (!out)
        return Outcome::invalid(where() + ": input '" + n.input(k) + "' has no value");
    return Outcome::ok();
}

Outcome OnnxImporter::constInput(const onnx::NodeProto& n, int k, const Const*& out,
                                 bool optional) {
    out = nullptr;
    if (optional && !hasInput(n, k))
        return Outcome::ok();
    const Value* v = nullptr;
    QAT_ONNX_TRY(input(n, k, v));
    QAT_ASSERT(v != nullptr);
    if (v->kind != Value::Kind::Const)
        return Outcome::unsupported("input '" + n.input(k) +
                                    "' must be a constant (an initializer or a foldable "
                                    "subgraph) but is computed from the model input");
    out = &v->c;
    return Outcome::ok();
}

Outcome OnnxImporter::floatInput(const onnx::NodeProto& n, int k, const Const*& out,
                                 bool optional) {
    QAT_ONNX_TRY(constInput(n, k, out, optional));
    if (out && !out->isFloat)
        return Outcome::invalid(where() + ": input '" + n.input(k) + "' must be a float tensor");
    return Outcome::ok();
}

Outcome OnnxImporter::dynInput(const onnx::NodeProto& n, int k, Dyn& out) {
    const Value* v = nullptr;
    QAT_ONNX_TRY(input(n, k, v));
    if (v->kind != Value::Kind::Dyn)
        return Outcome::unsupported("input '" + n.input(k) +
                                    "' is a constant; this op is only imported on activations");
    out = v->d;
    out.biasless = false;
    return Outcome::ok();
}

Outcome OnnxImporter::setConst(const onnx::NodeProto& n, Const c) {
    if (!c.isFloat && c.batch.size() != c.i.size())
        c.batch.assign(c.i.size(), 0);
    Value v;
    v.kind = Value::Kind::Const;
    v.c = std::move(c);
    m_values[n.output(0)] = std::move(v);
    ++m_folded[m_opType];
    return Outcome::ok();
}

bool OnnxImporter::allInputsConst(const onnx::NodeProto& n) {
    for (const auto& in : n.input()) {
        if (in.empty())
            continue;
        const Value* v = nullptr;
        if (!get(in, v).isOk() || !v || v->kind != Value::Kind::Const)
            return false;
    }
    return true;
}

Ints OnnxImporter::onnxDims(const Dyn& d) const {
    const Shape& s = m_builder.shape(d.node);
    switch (d.layout) {
    case Layout::Chw:
        return {s[2], s[0], s[1]};
    case Layout::Pooled:
        return {s[0], 1, 1};
    case Layout::Flat:
        return s;
    }
    return s;
}

Outcome OnnxImporter::addNode(Node node, std::string& name) {
    auto added = m_builder.add(std::move(node));
    if (!added)
        return Outcome::invalid(where() + ": " + added.message());
    name = *added;
    return Outcome::ok();
}

Outcome OnnxImporter::asChw(Dyn& d) {
    if (d.layout == Layout::Chw)
        return Outcome::ok();
    if (d.layout == Layout::Flat)
        return Outcome::unsupported("needs an NCHW input but '" + d.node +
                                    "' is a rank-2 [N,F] tensor");
    auto it = m_hwcOf.find(d.node);
    if (it == m_hwcOf.end()) {
        Node reshape;
        reshape.name = d.node + "/hwc";
        reshape.type = OpType::Reshape;
        reshape.inputs = {d.node};
        reshape.attrs.set("shape", AttrValue(Ints{1, 1, m_builder.shape(d.node)[0]}));
        std::string name;
        QAT_ONNX_TRY(addNode(std::move(reshape), name));
        it = m_hwcOf.emplace(d.node, name).first;
    }
    d = Dyn{it->second, Layout::Chw, {}, false};
    return Outcome::ok();
}

Outcome OnnxImporter::asFlat(Dyn& d) {
    if (d.layout == Layout::Chw)
        return Outcome::unsupported("needs a rank-2 [N,F] input but '" + d.node +
                                    "' is an NCHW map (flatten it first)");
    d.layout = Layout::Flat;
    return Outcome::ok();
}

Outcome OnnxImporter::emitUnary(const onnx::NodeProto& n, OpType type, Attrs attrs) {
    Dyn d;
    QAT_ONNX_TRY(dynInput(n, 0, d));
    Node node;
    node.name = m_nodeName;
    node.type = type;
    node.inputs = {d.node};
    node.attrs = std::move(attrs);
    QAT_ONNX_TRY(addNode(std::move(node), d.node));
    setDyn(n, std::move(d));
    return Outcome::ok();
}

Outcome OnnxImporter::setUpInput() {
    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& in : m_graph.input())
        if (!m_initializers.count(in.name()))
            inputs.push_back(&in);
    if (inputs.empty())
        return Outcome::invalid("the graph has no input (every graph input is an initializer)");
    for (size_t k = 1; k < inputs.size(); ++k) {
        addUnsupported(inputs[k]->name(), "(graph input)",
                       "only one model input is supported; the first is '" + inputs[0]->name() +
                           "'");
        m_values[inputs[k]->name()] = Value{};
    }
    const onnx::ValueInfoProto& in = *inputs[0];
    ImportedTensor info;
    info.name = in.name();
    m_values[in.name()] = Value{};
    auto reject = [&](const std::string& why) {
        addUnsupported(in.name(), "(graph input)", why);
        m_report.inputs.push_back(info);
        return Outcome::ok();
    };
    if (!in.type().has_tensor_type())
        return reject("the input is not a tensor");
    const auto& tt = in.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
        return reject(std::string("the input has element type ") + dataTypeName(tt.elem_type()) +
                      "; only FLOAT inputs are supported");
    if (!tt.has_shape())
        return reject("the input has no declared shape");
    Ints dims;
    for (const auto& d : tt.shape().dim())
        dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    info.fileShape = dims;
    info.fileLayout = importer::fileLayoutName(dims.size(), true);
    if (dims.size() != 4 && dims.size() != 2)
        return reject("the input has rank " + std::to_string(dims.size()) +
                      "; only [N,C,H,W] images and [N,F] vectors are supported");
    for (size_t k = 1; k < dims.size(); ++k)
        if (dims[k] <= 0)
            return reject("input dimension " + std::to_string(k) +
                          " is symbolic; only the batch dimension may be");
    m_fixedBatch = dims[0] > 0 ? dims[0] : 0;
    if (dims[0] <= 0) {
        const auto& d0 = tt.shape().dim(0);
        note("the batch dimension of input '" + in.name() + "' is symbolic" +
             (d0.has_dim_param() ? " ('" + d0.dim_param() + "')" : std::string()));
    } else {
        note("input '" + in.name() + "' declares batch " + std::to_string(dims[0]) +
             "; the imported graph takes any batch size");
    }
    Node node;
    node.name = in.name().empty() ? "input" : in.name();
    node.type = OpType::Input;
    const Shape shape = dims.size() == 4 ? Shape{dims[2], dims[3], dims[1]} : Shape{dims[1]};
    node.attrs.set("shape", AttrValue(shape));
    auto added = m_builder.add(std::move(node));
    if (!added)
        return Outcome::invalid("input '" + in.name() + "' " + importer::fileShapeText(dims) +
                                ": " + added.message());
    Dyn d;
    d.node = *added;
    d.layout = dims.size() == 4 ? Layout::Chw : Layout::Flat;
    Value v;
    v.kind = Value::Kind::Dyn;
    v.d = d;
    m_values[in.name()] = std::move(v);
    info.graphShape = shape;
    info.graphLayout = dims.size() == 4 ? "HWC" : "F";
    if (dims.size() == 4)
        note("the NCHW input " + importer::fileShapeText(dims) + " is the graph's NHWC input " +
             shapeToString(shape) + "; no transpose is inserted, weights are converted instead");
    m_report.inputs.push_back(info);
    return Outcome::ok();
}

// opset 13 has no HardSwish; torch exports hardswish(x) as Mul(x, HardSigmoid(x)) with
// alpha 1/6 and beta 1/2. Such pairs become one HardSwish node.
void OnnxImporter::findHardSwishPatterns() {
    const int count = m_graph.node_size();
    std::unordered_map<std::string, int> readerOf;
    for (size_t k : m_live)
        for (const auto& in : m_graph.node(static_cast<int>(k)).input())
            readerOf[in] = static_cast<int>(k);
    for (int k = 0; k < count; ++k) {
        const auto& hs = m_graph.node(k);
        if (!m_live.count(static_cast<size_t>(k)) || opKey(hs) != "HardSigmoid" ||
            hs.input_size() != 1 || hs.output_size() < 1)
            continue;
        const float alpha = attrFloat(hs, "alpha", 0.2f);
        const float beta = attrFloat(hs, "beta", 0.5f);
        if (std::abs(alpha - 1.0f / 6.0f) > 1e-6f || std::abs(beta - 0.5f) > 1e-6f)
            continue;
        const std::string& out = hs.output(0);
        auto consumers = m_consumers.find(out);
        if (consumers == m_consumers.end() || consumers->second != 1 || m_graphOutputs.count(out))
            continue;
        const int m = readerOf[out];
        const auto& mul = m_graph.node(m);
        if (opKey(mul) != "Mul" || mul.input_size() != 2)
            continue;
        const std::string& x = hs.input(0);
        if (!((mul.input(0) == x && mul.input(1) == out) ||
              (mul.input(1) == x && mul.input(0) == out)))
            continue;
        m_fusedAway.insert(static_cast<size_t>(k));
        m_hardSwishOf[static_cast<size_t>(m)] = x;
        note("x * HardSigmoid(x) (alpha 1/6, beta 1/2) at '" + nodeLabel(static_cast<size_t>(m)) +
             "' imported as HardSwish");
    }
}

Outcome OnnxImporter::clipBounds(const onnx::NodeProto& n, float& lo, float& hi) {
    lo = std::numeric_limits<float>::lowest();
    hi = std::numeric_limits<float>::max();
    if (m_opset < 11) {
        lo = attrFloat(n, "min", lo);
        hi = attrFloat(n, "max", hi);
        return Outcome::ok();
    }
    for (int k = 1; k <= 2; ++k) {
        const Const* c = nullptr;
        QAT_ONNX_TRY(constInput(n, k, c, true));
        if (!c)
            continue;
        if (c->size() != 1)
            return Outcome::invalid(where() + ": the " + (k == 1 ? "min" : "max") +
                                    " input must be a scalar");
        const float v = c->isFloat ? c->f[0] : static_cast<float>(c->i[0]);
        (k == 1 ? lo : hi) = v;
    }
    return Outcome::ok();
}

// Checks that need no input shapes, so that ops downstream of an unsupported one are
// still reported when their own attributes are unsupported.
Outcome OnnxImporter::staticCheck(const onnx::NodeProto& n) {
    const std::string& op = m_opType;
    auto autoPadOk = [&]() {
        const std::string pad = attrString(n, "auto_pad", "NOTSET");
        return pad == "NOTSET" || pad == "SAME_UPPER" || pad == "SAME_LOWER" || pad == "VALID" ||
               pad.empty();
    };
    if (op == "Conv" || op == "MaxPool" || op == "AveragePool") {
        if (auto k = attrInts(n, "kernel_shape"); k && k->size() != 2)
            return Outcome::unsupported("only 2-D windows are supported; kernel_shape is " +
                                        intsText(*k));
        if (!autoPadOk())
            return Outcome::invalid(where() + ": unknown auto_pad '" +
                                    attrString(n, "auto_pad", "") + "'");
    }
    if (op == "MaxPool" || op == "AveragePool") {
        if (auto d = attrInts(n, "dilations");
            d && std::any_of(d->begin(), d->end(), [](int64_t v) { return v != 1; }))
            return Outcome::unsupported("dilated pooling is not supported");
        if (usesOutput(n, 1))
            return Outcome::unsupported("the Indices output of MaxPool is not supported");
    }
    if (op == "Gemm" && attrInt(n, "transA", 0) != 0)
        return Outcome::unsupported("Gemm with transA=1 is not supported");
    if (op == "BatchNormalization") {
        if (attrInt(n, "training_mode", 0) != 0)
            return Outcome::unsupported("training_mode=1 (batch statistics at inference) is not "
                                        "supported; export the model in eval mode");
        if (m_opset < 9 && attrInt(n, "spatial", 1) == 0)
            return Outcome::unsupported("spatial=0 (per-element statistics) is not supported");
        for (int k = 1; k < 5; ++k)
            if (usesOutput(n, k))
                return Outcome::unsupported("the running-statistics outputs are not supported");
    }
    if (op == "Dropout" && usesOutput(n, 1))
        return Outcome::unsupported("the mask output of Dropout is not supported");
    if (op == "Pad") {
        const std::string mode = attrString(n, "mode", "constant");
        if (mode != "constant")
            return Outcome::unsupported("Pad mode '" + mode +
                                        "' is not supported (only constant "
                                        "zero padding)");
        if (n.input_size() > 3 && !n.input(3).empty())
            return Outcome::unsupported("Pad with an 'axes' input is not supported");
    }
    if (op == "HardSigmoid")
        return Outcome::unsupported(
            "HardSigmoid is only imported inside x * HardSigmoid(x) (alpha 1/6, beta 1/2), "
            "which is HardSwish");
    if (op == "Clip") {
        bool known = true;
        for (int k = 1; k <= 2 && m_opset >= 11; ++k) {
            const Value* v = nullptr;
            if (k < n.input_size() && !n.input(k).empty()) {
                QAT_ONNX_TRY(get(n.input(k), v));
                if (!v || v->kind == Value::Kind::Poisoned)
                    known = false;
                else if (v->kind == Value::Kind::Dyn)
                    return Outcome::unsupported("Clip bounds computed from the model input are "
                                                "not supported");
            }
        }
        if (known) {
            float lo = 0, hi = 0;
            QAT_ONNX_TRY(clipBounds(n, lo, hi));
            const bool reluLike = lo == 0.0f && hi >= std::numeric_limits<float>::max();
            if (!(lo == 0.0f && hi == 6.0f) && !reluLike)
                return Outcome::unsupported("Clip(" + std::to_string(lo) + ", " +
                                            std::to_string(hi) +
                                            ") is not supported; only Clip(0, 6) (ReLU6) and "
                                            "Clip(0, inf) (ReLU) map to graph ops");
        }
    }
    return Outcome::ok();
}

// Explicit [top,left,bottom,right] pads of a Conv/Pool window from auto_pad or pads.
Outcome OnnxImporter::windowPads(const onnx::NodeProto& n, const Shape& in, const Ints& kernel,
                                 const Ints& strides, const Ints& dilations, Ints& pads) {
    const std::string autoPad = attrString(n, "auto_pad", "NOTSET");
    pads = {0, 0, 0, 0};
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
        for (size_t a = 0; a < 2; ++a) {
            const int64_t ek = (kernel[a] - 1) * dilations[a] + 1;
            const int64_t out = (in[a] + strides[a] - 1) / strides[a];
            const int64_t total = std::max<int64_t>(0, (out - 1) * strides[a] + ek - in[a]);
            const int64_t small = total / 2, large = total - small;
            pads[a] = autoPad == "SAME_UPPER" ? small : large;
            pads[a + 2] = autoPad == "SAME_UPPER" ? large : small;
        }
        return Outcome::ok();
    }
    if (autoPad == "VALID")
        return Outcome::ok();
    if (auto p = attrInts(n, "pads")) {
        if (p->size() != 4)
            return Outcome::invalid(where() + ": pads must have 4 values, got " + intsText(*p));
        for (int64_t v : *p)
            if (v < 0)
                return Outcome::unsupported("negative pads (cropping) " + intsText(*p) +
                                            " are not supported");
        pads = *p;
    }
    return Outcome::ok();
}

// Strides or dilations: two integers >= 1 (default 1).
Outcome windowInts(const onnx::NodeProto& n, const char* name, const std::string& where,
                   Ints& out) {
    out = attrInts(n, name).value_or(Ints{1, 1});
    if (out.size() != 2 || out[0] < 1 || out[1] < 1)
        return Outcome::invalid(where + ": " + name + " must be two integers >= 1, got " +
                                intsText(out));
    return Outcome::ok();
}

void setWindowAttrs(Node& node, const char* kernelKey, const Ints& kernel, const Ints& strides,
                    const Ints& dilations, const Ints& pads) {
    node.attrs.set(kernelKey, AttrValue(kernel));
    node.attrs.set("strides", AttrValue(strides));
    if (dilations != Ints{1, 1})
        node.attrs.set("dilations", AttrValue(dilations));
    if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
        node.attrs.set("padding", "valid");
    } else {
        node.attrs.set("padding", "explicit");
        node.attrs.set("pads", AttrValue(pads));
    }
}

Outcome OnnxImporter::convertConv(const onnx::NodeProto& n) {
    Dyn x;
    QAT_ONNX_TRY(dynInput(n, 0, x));
    QAT_ONNX_TRY(asChw(x));
    const Const* w = nullptr;
    const Const* b = nullptr;
    QAT_ONNX_TRY(floatInput(n, 1, w));
    QAT_ONNX_TRY(floatInput(n, 2, b, true));
    if (w->dims.size() != 4)
        return Outcome::unsupported("only 2-D convolutions are supported; the weight is " +
                                    intsText(w->dims));
    const Shape in = m_builder.shape(x.node);
    const int64_t channels = in[2], cout = w->dims[0], cinGroup = w->dims[1];
    const int64_t kh = w->dims[2], kw = w->dims[3];
    const int64_t group = attrInt(n, "group", 1);
    if (group < 1 || cinGroup * group != channels || cout < 1 || cout % group != 0 || kh < 1 ||
        kw < 1)
        return Outcome::invalid(where() + ": weight " + intsText(w->dims) + " with group " +
                                std::to_string(group) + " does not fit an input with " +
                                std::to_string(channels) + " channels");
    if (auto k = attrInts(n, "kernel_shape"); k && *k != Ints{kh, kw})
        return Outcome::invalid(where() + ": kernel_shape " + intsText(*k) +
                                " disagrees with the weight " + intsText(w->dims));
    Ints strides, dilations, pads;
    QAT_ONNX_TRY(windowInts(n, "strides", where(), strides));
    QAT_ONNX_TRY(windowInts(n, "dilations", where(), dilations));
    QAT_ONNX_TRY(windowPads(n, in, {kh, kw}, strides, dilations, pads));
    if (b && b->size() != cout)
        return Outcome::invalid(where() + ": bias has " + std::to_string(b->size()) +
                                " values for " + std::to_string(cout) + " output channels");

    Node node;
    node.name = m_nodeName;
    node.inputs = {x.node};
    setWindowAttrs(node, "kernel", {kh, kw}, strides, dilations, pads);
    const auto taps = static_cast<size_t>(kh * kw);
    if (group > 1 && group == channels) {
        // [M,1,kh,kw] -> [1,kh,kw,M]; output channel o = c*mult + m reads channel c in both.
        node.type = OpType::DepthwiseConv2D;
        node.attrs.set("depth_multiplier", AttrValue(cout / channels));
        std::vector<float> weights(static_cast<size_t>(cout) * taps);
        for (size_t o = 0; o < static_cast<size_t>(cout); ++o)
            for (size_t t = 0; t < taps; ++t)
                weights[t * static_cast<size_t>(cout) + o] = w->f[o * taps + t];
        node.params["weights"] = Tensor({1, kh, kw, cout}, std::move(weights));
    } else {
        // OIHW -> OHWI.
        node.type = OpType::Conv2D;
        node.attrs.set("filters", AttrValue(cout));
        if (group > 1)
            node.attrs.set("groups", AttrValue(group));
        const auto cg = static_cast<size_t>(cinGroup);
        std::vector<float> weights(w->f.size());
        for (size_t o = 0; o < static_cast<size_t>(cout); ++o)
            for (size_t ci = 0; ci < cg; ++ci)
                for (size_t t = 0; t < taps; ++t)
                    weights[(o * taps + t) * cg + ci] = w->f[(o * cg + ci) * taps + t];
        node.params["weights"] = Tensor({cout, kh, kw, cinGroup}, std::move(weights));
    }
    node.attrs.set("use_bias", AttrValue(int64_t{b ? 1 : 0}));
    if (b)
        node.params["bias"] = Tensor({cout}, b->f);
    Dyn out;
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::convertPool(const onnx::NodeProto& n, bool isMax) {
    Dyn x;
    QAT_ONNX_TRY(dynInput(n, 0, x));
    QAT_ONNX_TRY(asChw(x));
    const auto kernel = attrInts(n, "kernel_shape");
    if (!kernel || kernel->size() != 2 || (*kernel)[0] < 1 || (*kernel)[1] < 1)
        return Outcome::invalid(where() + ": kernel_shape must be two integers >= 1");
    Ints strides, dilations, pads;
    QAT_ONNX_TRY(windowInts(n, "strides", where(), strides));
    QAT_ONNX_TRY(windowInts(n, "dilations", where(), dilations));
    const Shape in = m_builder.shape(x.node);
    QAT_ONNX_TRY(windowPads(n, in, *kernel, strides, dilations, pads));
    const bool includePad = !isMax && attrInt(n, "count_include_pad", 0) != 0;

    // ceil_mode adds a last, partial window where floor mode has none (PyTorch's rule: it
    // must start inside the input or the leading padding). Extra bottom/right padding gives
    // the same windows; padding never wins a max and is never counted in an average.
    Ints extra{0, 0};
    for (size_t a = 0; a < 2; ++a) {
        const int64_t total = in[a] + pads[a] + pads[a + 2];
        const int64_t k = (*kernel)[a], s = strides[a];
        if (total < k)
            return Outcome::invalid(where() + ": the window " + intsText(*kernel) +
                                    " is larger than the padded input");
        const int64_t floorOut = (total - k) / s + 1;
        if (attrInt(n, "ceil_mode", 0) == 0)
            continue;
        int64_t ceilOut = (total - k + s - 1) / s + 1;
        if ((ceilOut - 1) * s >= in[a] + pads[a])
            --ceilOut;
        if (ceilOut > floorOut)
            extra[a] = (ceilOut - 1) * s + k - total;
    }
    if (extra[0] || extra[1])
        note("ceil_mode=1 of '" + m_nodeName +
             "' is realised as extra bottom/right padding that never enters the result");
    std::string src = x.node;
    Ints poolPads = pads;
    const bool anyPad = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
    if (includePad && anyPad) {
        Node pad;
        pad.name = m_nodeName + "/pad";
        pad.type = OpType::ZeroPad;
        pad.inputs = {src};
        pad.attrs.set("pads", AttrValue(pads));
        QAT_ONNX_TRY(addNode(std::move(pad), src));
        poolPads = {0, 0, 0, 0};
        note("AveragePool '" + m_nodeName +
             "' counts its padding (count_include_pad=1): imported as ZeroPad + AvgPool");
    }
    poolPads[2] += extra[0];
    poolPads[3] += extra[1];
    Node node;
    node.name = m_nodeName;
    node.type = isMax ? OpType::MaxPool : OpType::AvgPool;
    node.inputs = {src};
    setWindowAttrs(node, "pool", *kernel, strides, {1, 1}, poolPads);
    Dyn out;
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::convertGlobalPool(const onnx::NodeProto& n) {
    Dyn x;
    QAT_ONNX_TRY(dynInput(n, 0, x));
    if (x.layout == Layout::Pooled) {
        setDyn(n, std::move(x));
        return Outcome::ok();
    }
    if (x.layout == Layout::Flat)
        return Outcome::invalid(where() + ": needs a rank-4 input, '" + n.input(0) +
                                "' has rank 2");
    Node node;
    node.name = m_nodeName;
    node.type = OpType::GlobalAvgPool;
    node.inputs = {x.node};
    Dyn out;
    out.layout = Layout::Pooled;
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

// Gemm: Y = alpha * A * op(B) + beta * C; MatMul: Y = A * B (a following Add of a constant
// becomes the bias). The graph's Dense reads [units, in] weights; a permuted Flat input
// permutes the columns.
Outcome OnnxImporter::convertGemm(const onnx::NodeProto& n, bool isMatMul) {
    Dyn a;
    QAT_ONNX_TRY(dynInput(n, 0, a));
    QAT_ONNX_TRY(asFlat(a));
    const Const* b = nullptr;
    const Const* c = nullptr;
    QAT_ONNX_TRY(floatInput(n, 1, b));
    if (!isMatMul)
        QAT_ONNX_TRY(floatInput(n, 2, c, true));
    if (b->dims.size() != 2)
        return Outcome::unsupported("only a rank-2 constant right operand is supported; it is " +
                                    intsText(b->dims));
    const bool transB = !isMatMul && attrInt(n, "transB", 0) != 0;
    const float alpha = isMatMul ? 1.0f : attrFloat(n, "alpha", 1.0f);
    const float beta = isMatMul ? 1.0f : attrFloat(n, "beta", 1.0f);
    const int64_t inDim = transB ? b->dims[1] : b->dims[0];
    const int64_t units = transB ? b->dims[0] : b->dims[1];
    const int64_t features = m_builder.shape(a.node)[0];
    if (inDim != features || units < 1)
        return Outcome::invalid(where() + ": weight " + intsText(b->dims) +
                                (transB ? " (transposed)" : "") + " does not fit " +
                                std::to_string(features) + " input features");
    const auto uf = static_cast<size_t>(features), uu = static_cast<size_t>(units);
    std::vector<float> weights(uu * uf);
    for (size_t u = 0; u < uu; ++u)
        for (size_t k = 0; k < uf; ++k) {
            const size_t j = a.perm.empty() ? k : static_cast<size_t>(a.perm[k]);
            const float v = transB ? b->f[u * uf + j] : b->f[j * uu + u];
            weights[u * uf + k] = alpha * v;
        }
    if (!a.perm.empty())
        note("'" + m_nodeName +
             "' reads a flattened NCHW map: its weight columns were permuted to the graph's "
             "NHWC flatten order");
    Node node;
    node.name = m_nodeName;
    node.type = OpType::Dense;
    node.inputs = {a.node};
    node.attrs.set("units", AttrValue(units));
    node.params["weights"] = Tensor({units, features}, std::move(weights));
    if (c) {
        std::vector<float> bias(uu);
        const bool perUnit =
            c->size() == units && (c->dims == Ints{units} || c->dims == Ints{1, units});
        if (!perUnit && c->size() != 1)
            return Outcome::unsupported("a bias C of shape " + intsText(c->dims) +
                                        " is not one value per output unit");
        for (size_t u = 0; u < uu; ++u)
            bias[u] = beta * c->f[perUnit ? u : 0];
        node.params["bias"] = Tensor({units}, std::move(bias));
    }
    node.attrs.set("use_bias", AttrValue(int64_t{c ? 1 : 0}));
    Dyn out;
    out.layout = Layout::Flat;
    const std::string& y = n.output(0);
    auto consumers = m_consumers.find(y);
    out.biasless = isMatMul && consumers != m_consumers.end() && consumers->second == 1 &&
                   !m_graphOutputs.count(y);
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::convertBatchNorm(const onnx::NodeProto& n) {
    Dyn x;
    QAT_ONNX_TRY(dynInput(n, 0, x));
    const Shape& s = m_builder.shape(x.node);
    const int64_t channels = s.back();
    const char* names[] = {"gamma", "beta", "moving_mean", "moving_var"};
    Node node;
    node.name = m_nodeName;
    node.type = OpType::BatchNorm;
    node.inputs = {x.node};
    for (int k = 1; k <= 4; ++k) {
        const Const* p = nullptr;
        QAT_ONNX_TRY(floatInput(n, k, p));
        if (p->size() != channels)
            return Outcome::invalid(where() + ": input '" + n.input(k) + "' has " +
                                    std::to_string(p->size()) + " values for " +
                                    std::to_string(channels) + " channels");
        std::vector<float> v = p->f;
        if (x.layout == Layout::Flat && !x.perm.empty())
            for (size_t i = 0; i < v.size(); ++i)
                v[i] = p->f[static_cast<size_t>(x.perm[i])];
        node.params[names[k - 1]] = Tensor({channels}, std::move(v));
    }
    const double eps = attrFloat(n, "epsilon", 1e-5f);
    if (!(eps >= 1e-30 && eps <= 1e30))
        return Outcome::unsupported("epsilon " + std::to_string(eps) +
                                    " is outside the supported range [1e-30, 1e30]");
    // ONNX: running = running * momentum + batch * (1 - momentum); the graph's momentum
    // weighs the batch statistic.
    const double momentum = std::clamp(1.0 - attrFloat(n, "momentum", 0.9f), 0.0, 1.0);
    node.attrs.set("epsilon", eps);
    node.attrs.set("momentum", momentum);
    Dyn out = x;
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

bool samePerm(const Dyn& a, const Dyn& b) {
    if (a.perm.empty() || b.perm.empty()) {
        const Ints& p = a.perm.empty() ? b.perm : a.perm;
        for (size_t k = 0; k < p.size(); ++k)
            if (p[k] != static_cast<int64_t>(k))
                return false;
        return true;
    }
    return a.perm == b.perm;
}

Outcome OnnxImporter::convertAdd(const onnx::NodeProto& n) {
    const Value* va = nullptr;
    const Value* vb = nullptr;
    QAT_ONNX_TRY(input(n, 0, va));
    QAT_ONNX_TRY(input(n, 1, vb));
    if (va->kind != Value::Kind::Dyn || vb->kind != Value::Kind::Dyn) {
        const Value& dv = va->kind == Value::Kind::Dyn ? *va : *vb;
        const Const& k = (va->kind == Value::Kind::Dyn ? vb : va)->c;
        if (!dv.d.biasless)
            return Outcome::unsupported(
                "adding a constant to an activation is only imported as the bias of a "
                "preceding MatMul whose output feeds nothing else");
        Node* dense = m_builder.find(dv.d.node);
        QAT_ASSERT(dense != nullptr);
        const int64_t units = m_builder.shape(dv.d.node)[0];
        const bool perUnit =
            k.size() == units && (k.dims == Ints{units} || k.dims == Ints{1, units});
        if (!k.isFloat || (!perUnit && k.size() != 1))
            return Outcome::unsupported("a MatMul bias of shape " + intsText(k.dims) +
                                        " is not one float per output unit");
        std::vector<float> bias(static_cast<size_t>(units));
        for (size_t u = 0; u < bias.size(); ++u)
            bias[u] = k.f[perUnit ? u : 0];
        dense->attrs.set("use_bias", AttrValue(int64_t{1}));
        dense->params["bias"] = Tensor({units}, std::move(bias));
        Dyn out = dv.d;
        out.biasless = false;
        note("MatMul + Add '" + m_nodeName + "' imported as one Dense with bias");
        setDyn(n, std::move(out));
        return Outcome::ok();
    }
    Dyn a = va->d, b = vb->d;
    if (a.layout != b.layout) {
        if (a.layout == Layout::Pooled)
            QAT_ONNX_TRY(b.layout == Layout::Chw ? asChw(a) : asFlat(a));
        else if (b.layout == Layout::Pooled)
            QAT_ONNX_TRY(a.layout == Layout::Chw ? asChw(b) : asFlat(b));
        else
            return Outcome::unsupported("Add of a rank-4 and a rank-2 tensor (broadcasting) is "
                                        "not supported");
    }
    const Shape& sa = m_builder.shape(a.node);
    const Shape& sb = m_builder.shape(b.node);
    if (sa != sb)
        return Outcome::unsupported("Add with broadcasting (" + intsText(onnxDims(a)) + " + " +
                                    intsText(onnxDims(b)) + " per sample) is not supported");
    if (a.layout == Layout::Flat && !samePerm(a, b))
        return Outcome::unsupported("Add of two flattened tensors whose NCHW element orders "
                                    "differ is not supported");
    Node node;
    node.name = m_nodeName;
    node.type = OpType::Add;
    node.inputs = {a.node, b.node};
    Dyn out = a;
    out.biasless = false;
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::convertConcat(const onnx::NodeProto& n) {
    std::vector<Dyn> parts;
    bool anyFlat = false, anyChw = false;
    for (int k = 0; k < n.input_size(); ++k) {
        const Value* v = nullptr;
        QAT_ONNX_TRY(input(n, k, v));
        if (v->kind != Value::Kind::Dyn)
            return Outcome::unsupported("Concat of an activation with a constant is not "
                                        "supported");
        parts.push_back(v->d);
        anyFlat = anyFlat || v->d.layout == Layout::Flat;
        anyChw = anyChw || v->d.layout == Layout::Chw;
    }
    if (parts.empty())
        return Outcome::invalid(where() + ": has no inputs");
    if (anyFlat && anyChw)
        return Outcome::invalid(where() + ": concatenates tensors of different ranks");
    const int64_t rank = anyFlat ? 2 : 4;
    int64_t axis = attrInt(n, "axis", 1);
    if (axis < -rank || axis >= rank)
        return Outcome::invalid(where() + ": axis " + std::to_string(axis) + " is outside rank " +
                                std::to_string(rank));
    if (axis < 0)
        axis += rank;
    if (axis == 0)
        return Outcome::unsupported("Concat over the batch dimension is not supported");
    int64_t graphAxis = 0;
    Layout layout = Layout::Flat;
    if (anyFlat) {
        for (Dyn& d : parts)
            QAT_ONNX_TRY(asFlat(d));
    } else if (anyChw) {
        for (Dyn& d : parts)
            QAT_ONNX_TRY(asChw(d));
        layout = Layout::Chw;
        graphAxis = axis == 1 ? 2 : axis - 2; // C -> last, H -> 0, W -> 1
    } else {
        if (axis != 1)
            return Outcome::unsupported("Concat of [N,C,1,1] maps over a spatial axis is not "
                                        "supported");
        layout = Layout::Pooled;
    }
    Node node;
    node.name = m_nodeName;
    node.type = OpType::Concat;
    node.attrs.set("axis", AttrValue(graphAxis));
    Dyn out;
    out.layout = layout;
    bool permuted = false;
    for (const Dyn& d : parts) {
        node.inputs.push_back(d.node);
        permuted = permuted || !d.perm.empty();
    }
    if (permuted) {
        int64_t offset = 0;
        for (const Dyn& d : parts) {
            const int64_t f = m_builder.shape(d.node)[0];
            for (int64_t k = 0; k < f; ++k)
                out.perm.push_back(offset + (d.perm.empty() ? k : d.perm[static_cast<size_t>(k)]));
            offset += f;
        }
    }
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

// [N, ...] -> [N, F]. Flattening an NCHW map orders elements C,H,W; the graph's Flatten of
// [H,W,C] orders them H,W,C, so the result remembers the permutation for its consumers.
Outcome OnnxImporter::flattenTo(const onnx::NodeProto& n, Dyn d) {
    d.biasless = false;
    if (d.layout != Layout::Chw) {
        d.layout = Layout::Flat;
        setDyn(n, std::move(d));
        return Outcome::ok();
    }
    const Shape s = m_builder.shape(d.node);
    const int64_t h = s[0], w = s[1], c = s[2];
    Node node;
    node.name = m_nodeName;
    node.type = OpType::Flatten;
    node.inputs = {d.node};
    Dyn out;
    out.layout = Layout::Flat;
    if (c > 1 && h * w > 1) {
        out.perm.resize(static_cast<size_t>(h * w * c));
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
                for (int64_t ch = 0; ch < c; ++ch)
                    out.perm[static_cast<size_t>((y * w + x) * c + ch)] = (ch * h + y) * w + x;
    }
    QAT_ONNX_TRY(addNode(std::move(node), out.node));
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::convertFlatten(const onnx::NodeProto& n) {
    Dyn d;
    QAT_ONNX_TRY(dynInput(n, 0, d));
    const auto rank = static_cast<int64_t>(onnxDims(d).size()) + 1;
    int64_t axis = attrInt(n, "axis", 1);
    if (axis < 0)
        axis += rank;
    if (axis != 1)
        return Outcome::unsupported("Flatten at axis " + std::to_string(attrInt(n, "axis", 1)) +
                                    " is not supported (only axis 1: [N, rest])");
    return flattenTo(n, std::move(d));
}

// Standard ONNX Reshape arithmetic: 0 copies the input dimension (unless allowzero), one
// -1 is inferred.
Outcome OnnxImporter::resolveReshape(const Ints& in, const Const& target, bool allowZero,
                                     Ints& out) {
    const auto count = boundedCount(in, std::numeric_limits<int64_t>::max());
    if (!count)
        return Outcome::invalid(where() + ": invalid input dimensions");
    out = target.i;
    int inferred = -1;
    int64_t known = 1;
    for (size_t j = 0; j < out.size(); ++j) {
        if (out[j] == 0 && !allowZero) {
            if (j >= in.size())
                return Outcome::invalid(where() + ": shape " + intsText(target.i) +
                                        " copies a dimension the input does not have");
            out[j] = in[j];
        }
        if (out[j] == -1) {
            if (inferred >= 0)
                return Outcome::invalid(where() + ": shape " + intsText(target.i) +
                                        " has more than one -1");
            inferred = static_cast<int>(j);
            continue;
        }
        if (out[j] < 0 || (out[j] > 0 && known > (int64_t{1} << 50) / out[j]))
            return Outcome::invalid(where() + ": invalid target shape " + intsText(target.i));
        known *= out[j];
    }
    if (inferred >= 0) {
        if (known == 0 || *count % known != 0)
            return Outcome::invalid(where() + ": cannot reshape " + intsText(in) + " to " +
                                    intsText(target.i));
        out[static_cast<size_t>(inferred)] = *count / known;
    } else if (known != *count) {
        return Outcome::invalid(where() + ": cannot reshape " + intsText(in) + " to " +
                                intsText(target.i));
    }
    return Outcome::ok();
}

Outcome OnnxImporter::convertReshape(const onnx::NodeProto& n) {
    Dyn d;
    QAT_ONNX_TRY(dynInput(n, 0, d));
    const Const* t = nullptr;
    QAT_ONNX_TRY(constInput(n, 1, t));
    if (t->isFloat || t->dims.size() != 1 || t->i.empty())
        return Outcome::invalid(where() + ": the shape input must be a non-empty rank-1 "
                                          "integer tensor");
    const bool allowZero = attrInt(n, "allowzero", 0) != 0;
    const Ints sample = onnxDims(d);
    // Which target dimension is the batch? Only the first may be.
    for (size_t j = 1; j < t->i.size(); ++j)
        if (t->batch[j])
            return Outcome::unsupported("Reshape moves the batch size into dimension " +
                                        std::to_string(j));
    const int64_t lead = t->i[0];
    Const rest;
    rest.isFloat = false;
    rest.i.assign(t->i.begin() + 1, t->i.end());
    rest.batch.assign(rest.i.size(), 0);
    rest.dims = {static_cast<int64_t>(rest.i.size())};
    bool batchFirst = t->batch[0] || (lead == 0 && !allowZero);
    if (!batchFirst && lead == -1) {
        // [-1, a, b]: the batch when the rest is exactly one sample.
        int64_t known = 1;
        bool exact = true;
        for (size_t j = 0; j < rest.i.size() && exact; ++j) {
            int64_t v = rest.i[j];
            if (v == 0 && !allowZero && j < sample.size())
                v = sample[j];
            exact = v > 0 && known <= (int64_t{1} << 50) / v;
            if (exact)
                known *= v;
        }
        batchFirst = exact && boundedCount(sample, int64_t{1} << 50) == known;
    } else if (!batchFirst && (lead == 1 || (m_fixedBatch > 0 && lead == m_fixedBatch))) {
        batchFirst = true;
        if (m_fixedBatch == 0)
            note("Reshape '" + m_nodeName +
                 "' writes a literal batch of 1; it is treated as the batch dimension");
    }
    if (!batchFirst)
        return Outcome::unsupported("Reshape to " + intsText(t->i) +
                                    " changes the batch dimension");
    Ints target;
    QAT_ONNX_TRY(resolveReshape(sample, rest, allowZero, target));
    if (target.size() == 1)
        return flattenTo(n, std::move(d));
    if (target.size() == 3) {
        if (d.layout == Layout::Chw && target == sample) {
            setDyn(n, std::move(d));
            return Outcome::ok();
        }
        const bool pooledShape = target[1] == 1 && target[2] == 1;
        if (pooledShape &&
            (d.layout == Layout::Pooled || (d.layout == Layout::Flat && samePerm(d, Dyn{})))) {
            d.layout = Layout::Pooled;
            d.perm.clear();
            setDyn(n, std::move(d));
            return Outcome::ok();
        }
        if (target[0] == 1 && d.layout != Layout::Chw && samePerm(d, Dyn{})) {
            // [N,F] -> [N,1,H,W]: with one channel NCHW and NHWC orders agree.
            Node node;
            node.name = m_nodeName;
            node.type = OpType::Reshape;
            node.inputs = {d.node};
            node.attrs.set("shape", AttrValue(Ints{target[1], target[2], 1}));
            Dyn out;
            QAT_ONNX_TRY(addNode(std::move(node), out.node));
            setDyn(n, std::move(out));
            return Outcome::ok();
        }
    }
    return Outcome::unsupported("Reshape of " + intsText(sample) + " to " + intsText(target) +
                                " per sample would reorder elements in the NHWC graph (supported: "
                                "flattening, [C,1,1] <-> [C], and one-channel maps)");
}

Outcome OnnxImporter::convertSoftmax(const onnx::NodeProto& n) {
    Dyn d;
    QAT_ONNX_TRY(dynInput(n, 0, d));
    const auto rank = static_cast<int64_t>(onnxDims(d).size()) + 1;
    int64_t axis = attrInt(n, "axis", m_opset >= 13 ? -1 : 1);
    if (axis < -rank || axis >= rank)
        return Outcome::invalid(where() + ": axis " + std::to_string(axis) + " is outside rank " +
                                std::to_string(rank));
    if (axis < 0)
        axis += rank;
    bool ok = false;
    if (d.layout != Layout::Chw || m_opset >= 13) {
        ok = axis == 1; // over F, or over C: the graph's last axis
    } else {
        const Shape& s = m_builder.shape(d.node);
        ok = axis == 1 && s[0] == 1 && s[1] == 1; // opset < 13 flattens [C,H,W] from axis 1
    }
    if (!ok)
        return Outcome::unsupported("Softmax over axis " + std::to_string(axis) + " of a rank-" +
                                    std::to_string(rank) +
                                    " tensor is not supported (only over the channels)");
    return emitUnary(n, OpType::Softmax);
}

Outcome OnnxImporter::convertPad(const onnx::NodeProto& n) {
    Dyn d;
    QAT_ONNX_TRY(dynInput(n, 0, d));
    Ints pads;
    float value = 0.0f;
    if (m_opset >= 11) {
        const Const* p = nullptr;
        const Const* v = nullptr;
        QAT_ONNX_TRY(constInput(n, 1, p));
        QAT_ONNX_TRY(constInput(n, 2, v, true));
        if (p->isFloat || p->hasBatch())
            return Outcome::invalid(where() + ": pads must be constant integers");
        pads = p->i;
        if (v && v->size() != 1)
            return Outcome::invalid(where() + ": constant_value must be a scalar");
        if (v)
            value = v->isFloat ? v->f[0] : static_cast<float>(v->i[0]);
    } else {
        pads = attrInts(n, m_opset < 2 ? "paddings" : "pads").value_or(Ints{});
        value = attrFloat(n, "value", 0.0f);
    }
    if (value != 0.0f)
        return Outcome::unsupported("padding with " + std::to_string(value) +
                                    " is not supported (only zeros)");
    const auto rank = static_cast<int64_t>(onnxDims(d).size()) + 1;
    if (static_cast<int64_t>(pads.size()) != 2 * rank)
        return Outcome::invalid(where() + ": pads " + intsText(pads) + " must have " +
                                std::to_string(2 * rank) + " values for a rank-" +
                                std::to_string(rank) + " input");
    if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
        ++m_elided;
        setDyn(n, std::move(d));
        return Outcome::ok();
    }
    if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
        return Outcome::unsupported("negative pads (cropping) " + intsText(pads) +
                                    " are not supported");
    if (rank != 4 || pads[0] || pads[4])
        return Outcome::unsupported("only padding of the channel and spatial dimensions of an "
                                    "NCHW map is supported; pads are " +
                                    intsText(pads));
    QAT_ONNX_TRY(asChw(d));
    const bool padsSpace = pads[2] || pads[3] || pads[6] || pads[7];
    const bool padsChannels = pads[1] || pads[5];
    Dyn out;
    out.node = d.node;
    if (padsSpace) {
        Node node;
        node.name = padsChannels ? m_nodeName + "/spatial" : m_nodeName;
        node.type = OpType::ZeroPad;
        node.inputs = {d.node};
        node.attrs.set("pads", AttrValue(Ints{pads[2], pads[3], pads[6], pads[7]}));
        QAT_ONNX_TRY(addNode(std::move(node), out.node));
    }
    if (padsChannels) {
        const int64_t channels = m_builder.shape(out.node)[2];
        if (channels + pads[1] + pads[5] > importer::kMaxPaddedChannels)
            return Outcome::unsupported("channel padding to more than " +
                                        std::to_string(importer::kMaxPaddedChannels) +
                                        " channels is not supported");
        QAT_ONNX_TRY(addNode(
            importer::channelPadNode(m_nodeName, out.node, channels, pads[1], pads[5]), out.node));
        note("Pad '" + m_nodeName +
             "' of the channel dimension became a 1x1 Conv2D (identity weights, zero channels "
             "added)");
    }
    setDyn(n, std::move(out));
    return Outcome::ok();
}

Outcome OnnxImporter::axesOf(const onnx::NodeProto& n, int inputIndex, std::optional<Ints>& axes) {
    axes.reset();
    if (m_opset >= 13) {
        const Const* a = nullptr;
        QAT_ONNX_TRY(constInput(n, inputIndex, a, true));
        if (a) {
            if (a->isFloat || a->hasBatch())
                return Outcome::invalid(where() + ": axes must be constant integers");
            axes = a->i;
        }
        return Outcome::ok();
    }
    axes = attrInts(n, "axes");
    return Outcome::ok();
}

// Elementwise Add/Sub/Mul/Div of two constants with numpy broadcasting.
Outcome OnnxImporter::foldBinary(const onnx::NodeProto& n, Const& out) {
    const Const* a = nullptr;
    const Const* b = nullptr;
    QAT_ONNX_TRY(constInput(n, 0, a));
    QAT_ONNX_TRY(constInput(n, 1, b));
    if (a->isFloat != b->isFloat)
        return Outcome::invalid(where() + ": inputs have different element types");
    if ((a->hasBatch() || b->hasBatch()) && m_fixedBatch == 0)
        return Outcome::unsupported("arithmetic on the symbolic batch size is not supported "
                                    "(export with a fixed batch, or reshape with -1)");
    const size_t rank = std::max(a->dims.size(), b->dims.size());
    Ints da(rank, 1), db(rank, 1), dims(rank, 1);
    std::copy(a->dims.begin(), a->dims.end(),
              da.begin() + static_cast<long>(rank - a->dims.size()));
    std::copy(b->dims.begin(), b->dims.end(),
              db.begin() + static_cast<long>(rank - b->dims.size()));
    for (size_t k = 0; k < rank; ++k) {
        if (da[k] != db[k] && da[k] != 1 && db[k] != 1)
            return Outcome::invalid(where() + ": shapes " + intsText(a->dims) + " and " +
                                    intsText(b->dims) + " do not broadcast");
        dims[k] = da[k] == 1 ? db[k] : da[k];
    }
    const auto count = boundedCount(dims, m_foldBudget);
    if (!count)
        return charge(-1);
    QAT_ONNX_TRY(charge(*count));
    const Ints sa = stridesOf(da), sb = stridesOf(db), so = stridesOf(dims);
    const std::string& op = m_opType;
    out.isFloat = a->isFloat;
    out.dims = dims;
    if (out.isFloat)
        out.f.resize(static_cast<size_t>(*count));
    else
        out.i.resize(static_cast<size_t>(*count));
    for (int64_t k = 0; k < *count; ++k) {
        int64_t ia = 0, ib = 0, rem = k;
        for (size_t d = 0; d < rank; ++d) {
            const int64_t c = rem / so[d];
            rem %= so[d];
            ia += (da[d] == 1 ? 0 : c) * sa[d];
            ib += (db[d] == 1 ? 0 : c) * sb[d];
        }
        const auto uk = static_cast<size_t>(k);
        if (out.isFloat) {
            const float x = a->f[static_cast<size_t>(ia)], y = b->f[static_cast<size_t>(ib)];
            out.f[uk] = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
        } else {
            const int64_t x = a->i[static_cast<size_t>(ia)], y = b->i[static_cast<size_t>(ib)];
            if (op == "Div" && y == 0)
                return Outcome::invalid(where() + ": integer division by zero");
            // Wrap-around like the runtimes; shape arithmetic never gets near it.
            const auto ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
            out.i[uk] = op == "Add"   ? static_cast<int64_t>(ux + uy)
                        : op == "Sub" ? static_cast<int64_t>(ux - uy)
                        : op == "Mul" ? static_cast<int64_t>(ux * uy)
                        : (x == std::numeric_limits<int64_t>::min() && y == -1) ? x
                                                                                : x / y;
        }
    }
    return Outcome::ok();
}

Outcome OnnxImporter::foldSlice(const onnx::NodeProto& n, const Const& data, Const& out) {
    Ints starts, ends, axes, steps;
    if (m_opset >= 10) {
        const Const* c[4] = {};
        for (int k = 1; k <= 4; ++k) {
            QAT_ONNX_TRY(constInput(n, k, c[k - 1], k >= 3));
            if (c[k - 1] && (c[k - 1]->isFloat || c[k - 1]->hasBatch()))
                return Outcome::invalid(where() + ": slice parameters must be integers");
        }
        starts = c[0]->i;
        ends = c[1]->i;
        if (c[2])
            axes = c[2]->i;
        if (c[3])
            steps = c[3]->i;
    } else {
        starts = attrInts(n, "starts").value_or(Ints{});
        ends = attrInts(n, "ends").value_or(Ints{});
        axes = attrInts(n, "axes").value_or(Ints{});
    }
    const auto rank = static_cast<int64_t>(data.dims.size());
    if (axes.empty())
        for (int64_t k = 0; k < static_cast<int64_t>(starts.size()); ++k)
            axes.push_back(k);
    if (steps.empty())
        steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
        return Outcome::invalid(where() + ": starts, ends, axes and steps differ in length");
    std::vector<Ints> index(static_cast<size_t>(rank));
    for (int64_t a = 0; a < rank; ++a)
        for (int64_t k = 0; k < data.dims[static_cast<size_t>(a)]; ++k)
            index[static_cast<size_t>(a)].push_back(k);
    std::set<int64_t> seen;
    for (size_t k = 0; k < starts.size(); ++k) {
        int64_t axis = axes[k];
        if (axis < -rank || axis >= rank || !seen.insert(axis < 0 ? axis + rank : axis).second)
            return Outcome::invalid(where() + ": invalid or repeated slice axis " +
                                    std::to_string(axes[k]));
        if (axis < 0)
            axis += rank;
        const int64_t dim = data.dims[static_cast<size_t>(axis)];
        const int64_t step = steps[k];
        if (step == 0)
            return Outcome::invalid(where() + ": slice step 0");
        auto norm = [&](int64_t v) {
            if (v < -dim)
                return int64_t{-1};
            if (v < 0)
                return v + dim;
            return std::min(v, dim);
        };
        int64_t start = norm(starts[k]), end = norm(ends[k]);
        Ints picked;
        if (step > 0) {
            start = std::clamp<int64_t>(start, 0, dim);
            end = std::clamp<int64_t>(end, 0, dim);
            for (int64_t v = start; v < end; v += step)
                picked.push_back(v);
        } else {
            start = std::clamp<int64_t>(start, 0, dim - 1);
            end = std::clamp<int64_t>(end, -1, dim - 1);
            for (int64_t v = start; v > end; v += step)
                picked.push_back(v);
        }
        index[static_cast<size_t>(axis)] = std::move(picked);
    }
    Ints dims;
    for (const Ints& ix : index)
        dims.push_back(static_cast<int64_t>(ix.size()));
    const int64_t count = boundedCount(dims, m_foldBudget).value_or(-1);
    QAT_ONNX_TRY(charge(count));
    const Ints inStrides = stridesOf(data.dims), outStrides = stridesOf(dims);
    out = remap(data, dims, count, [&](int64_t k) {
        int64_t src = 0;
        for (size_t a = 0; a < dims.size(); ++a) {
            const int64_t c = k / outStrides[a];
            k %= outStrides[a];
            src += index[a][static_cast<size_t>(c)] * inStrides[a];
        }
        return src;
    });
    return Outcome::ok();
}

Outcome OnnxImporter::foldConcat(const onnx::NodeProto& n, Const& out) {
    std::vector<const Const*> parts;
    for (int k = 0; k < n.input_size(); ++k) {
        const Const* c = nullptr;
        QAT_ONNX_TRY(constInput(n, k, c));
        parts.push_back(c);
    }
    if (parts.empty())
        return Outcome::invalid(where() + ": has no inputs");
    const auto rank = static_cast<int64_t>(parts[0]->dims.size());
    int64_t axis = attrInt(n, "axis", 0);
    if (axis < -rank || axis >= rank)
        return Outcome::invalid(where() + ": axis " + std::to_string(axis) + " is outside rank " +
                                std::to_string(rank));
    if (axis < 0)
        axis += rank;
    Ints dims = parts[0]->dims;
    dims[static_cast<size_t>(axis)] = 0;
    for (const Const* c : parts) {
        bool fits = c->isFloat == parts[0]->isFloat && c->dims.size() == parts[0]->dims.size();
        for (size_t d = 0; fits && d < c->dims.size(); ++d)
            fits = static_cast<int64_t>(d) == axis || c->dims[d] == parts[0]->dims[d];
        if (!fits)
            return Outcome::invalid(where() + ": inputs " + intsText(parts[0]->dims) + " and " +
                                    intsText(c->dims) + " cannot be concatenated");
        dims[static_cast<size_t>(axis)] += c->dims[static_cast<size_t>(axis)];
    }
    const int64_t count = boundedCount(dims, m_foldBudget).value_or(-1);
    QAT_ONNX_TRY(charge(count));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
        if (d < axis)
            outer *= parts[0]->dims[static_cast<size_t>(d)];
        else if (d > axis)
            inner *= parts[0]->dims[static_cast<size_t>(d)];
    }
    out.isFloat = parts[0]->isFloat;
    out.dims = dims;
    for (int64_t o = 0; o < outer; ++o)
        for (const Const* c : parts) {
            const int64_t chunk = c->dims[static_cast<size_t>(axis)] * inner;
            const auto begin = static_cast<size_t>(o * chunk),
                       end = begin + static_cast<size_t>(chunk);
            if (out.isFloat) {
                out.f.insert(out.f.end(), c->f.begin() + static_cast<long>(begin),
                             c->f.begin() + static_cast<long>(end));
            } else {
                out.i.insert(out.i.end(), c->i.begin() + static_cast<long>(begin),
                             c->i.begin() + static_cast<long>(end));
                out.batch.insert(out.batch.end(), c->batch.begin() + static_cast<long>(begin),
                                 c->batch.begin() + static_cast<long>(end));
            }
        }
    return Outcome::ok();
}

Outcome OnnxImporter::foldReshape(const onnx::NodeProto& n, const Const& data, Const& out) {
    const Const* t = nullptr;
    QAT_ONNX_TRY(constInput(n, 1, t));
    if (t->isFloat || t->dims.size() != 1)
        return Outcome::invalid(where() + ": the shape input must be a rank-1 integer tensor");
    if (t->hasBatch() && m_fixedBatch == 0)
        return Outcome::unsupported("reshaping a constant by the symbolic batch size");
    Ints dims;
    QAT_ONNX_TRY(resolveReshape(data.dims, *t, attrInt(n, "allowzero", 0) != 0, dims));
    out = data;
    out.dims = std::move(dims);
    return Outcome::ok();
}

// Nodes whose inputs are all constants (and Shape of an activation) become constants.
Outcome OnnxImporter::fold(const onnx::NodeProto& n) {
    const std::string& op = m_opType;
    Const out;
    if (op == "Constant") {
        if (const auto* a = findAttr(n, "value")) {
            QAT_ONNX_TRY(decodeTensor(a->t(), where() + " value", out));
            QAT_ONNX_TRY(charge(out.size()));
        } else if (const auto* vf = findAttr(n, "value_float")) {
            out.f = {vf->f()};
        } else if (const auto* vfs = findAttr(n, "value_floats")) {
            out.f.assign(vfs->floats().begin(), vfs->floats().end());
            out.dims = {static_cast<int64_t>(out.f.size())};
        } else if (const auto* vi = findAttr(n, "value_int")) {
            out.isFloat = false;
            out.i = {vi->i()};
        } else if (const auto* vis = findAttr(n, "value_ints")) {
            out.isFloat = false;
            out.i.assign(vis->ints().begin(), vis->ints().end());
            out.dims = {static_cast<int64_t>(out.i.size())};
        } else {
            return Outcome::unsupported("only dense numeric Constant values are supported");
        }
        return setConst(n, std::move(out));
    }
    if (op == "Shape") {
        const Value* v = nullptr;
        QAT_ONNX_TRY(input(n, 0, v));
        out.isFloat = false;
        if (v->kind == Value::Kind::Dyn) {
            out.i = onnxDims(v->d);
            out.i.insert(out.i.begin(), m_fixedBatch > 0 ? m_fixedBatch : 1);
            out.batch.assign(out.i.size(), 0);
            out.batch[0] = 1;
        } else {
            out.i = v->c.dims;
            out.batch.assign(out.i.size(), 0);
        }
        const auto rank = static_cast<int64_t>(out.i.size());
        auto clampDim = [&](int64_t v2) {
            return std::clamp<int64_t>(v2 < 0 ? v2 + rank : v2, 0, rank);
        };
        const int64_t start = clampDim(attrInt(n, "start", 0));
        const int64_t end = std::max(start, clampDim(attrInt(n, "end", rank)));
        out.i = Ints(out.i.begin() + start, out.i.begin() + end);
        out.batch = std::vector<uint8_t>(out.batch.begin() + start, out.batch.begin() + end);
        out.dims = {end - start};
        return setConst(n, std::move(out));
    }
    if (op == "Identity" || op == "Dropout") {
        const Const* c = nullptr;
        QAT_ONNX_TRY(constInput(n, 0, c));
        return setConst(n, *c);
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
        QAT_ONNX_TRY(foldBinary(n, out));
        return setConst(n, std::move(out));
    }
    if (op == "Concat") {
        QAT_ONNX_TRY(foldConcat(n, out));
        return setConst(n, std::move(out));
    }
    const Const* data = nullptr;
    QAT_ONNX_TRY(constInput(n, 0, data));
    const auto rank = static_cast<int64_t>(data->dims.size());
    if (op == "Reshape") {
        QAT_ONNX_TRY(foldReshape(n, *data, out));
        return setConst(n, std::move(out));
    }
    if (op == "Flatten") {
        int64_t axis = attrInt(n, "axis", 1);
        if (axis < 0)
            axis += rank;
        if (axis < 0 || axis > rank)
            return Outcome::invalid(where() + ": axis outside the rank");
        int64_t lo = 1, hi = 1;
        for (int64_t d = 0; d < rank; ++d)
            (d < axis ? lo : hi) *= data->dims[static_cast<size_t>(d)];
        out = *data;
        out.dims = {lo, hi};
        return setConst(n, std::move(out));
    }
    if (op == "Slice") {
        QAT_ONNX_TRY(foldSlice(n, *data, out));
        return setConst(n, std::move(out));
    }
    if (op == "Gather") {
        const Const* idx = nullptr;
        QAT_ONNX_TRY(constInput(n, 1, idx));
        if (idx->isFloat)
            return Outcome::invalid(where() + ": indices must be integers");
        int64_t axis = attrInt(n, "axis", 0);
        if (rank == 0 || axis < -rank || axis >= rank)
            return Outcome::invalid(where() + ": axis " + std::to_string(axis) +
                                    " is outside rank " + std::to_string(rank));
        if (axis < 0)
            axis += rank;
        const int64_t dim = data->dims[static_cast<size_t>(axis)];
        Ints picked;
        for (int64_t v : idx->i) {
            if (v < -dim || v >= dim)
                return Outcome::invalid(where() + ": index " + std::to_string(v) +
                                        " is outside [0, " + std::to_string(dim) + ")");
            picked.push_back(v < 0 ? v + dim : v);
        }
        Ints dims(data->dims.begin(), data->dims.begin() + axis);
        dims.insert(dims.end(), idx->dims.begin(), idx->dims.end());
        dims.insert(dims.end(), data->dims.begin() + axis + 1, data->dims.end());
        int64_t inner = 1;
        for (int64_t d = axis + 1; d < rank; ++d)
            inner *= data->dims[static_cast<size_t>(d)];
        const int64_t count = boundedCount(dims, m_foldBudget).value_or(-1);
        QAT_ONNX_TRY(charge(count));
        const auto np = static_cast<int64_t>(picked.size());
        out = remap(*data, dims, count, [&](int64_t k) {
            const int64_t o = k / (np * inner), rem = k % (np * inner);
            return (o * dim + picked[static_cast<size_t>(rem / inner)]) * inner + rem % inner;
        });
        return setConst(n, std::move(out));
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
        std::optional<Ints> axes;
        QAT_ONNX_TRY(axesOf(n, 1, axes));
        out = *data;
        if (op == "Unsqueeze") {
            if (!axes || axes->empty())
                return Outcome::invalid(where() + ": axes are required");
            const auto outRank = rank + static_cast<int64_t>(axes->size());
            std::vector<bool> inserted(static_cast<size_t>(outRank), false);
            for (int64_t a : *axes) {
                if (a < -outRank || a >= outRank ||
                    inserted[static_cast<size_t>(a < 0 ? a + outRank : a)])
                    return Outcome::invalid(where() + ": invalid axes " + intsText(*axes));
                inserted[static_cast<size_t>(a < 0 ? a + outRank : a)] = true;
            }
            out.dims.clear();
            size_t next = 0;
            for (size_t d = 0; d < inserted.size(); ++d)
                out.dims.push_back(inserted[d] ? 1 : data->dims[next++]);
        } else {
            std::vector<bool> removed(static_cast<size_t>(rank), false);
            for (int64_t d = 0; d < rank; ++d)
                removed[static_cast<size_t>(d)] = !axes && data->dims[static_cast<size_t>(d)] == 1;
            for (int64_t a : axes.value_or(Ints{})) {
                if (a < -rank || a >= rank ||
                    data->dims[static_cast<size_t>(a < 0 ? a + rank : a)] != 1)
                    return Outcome::invalid(where() + ": cannot squeeze axes " + intsText(*axes) +
                                            " of " + intsText(data->dims));
                removed[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
            }
            out.dims.clear();
            for (int64_t d = 0; d < rank; ++d)
                if (!removed[static_cast<size_t>(d)])
                    out.dims.push_back(data->dims[static_cast<size_t>(d)]);
        }
        return setConst(n, std::move(out));
    }
    if (op == "Transpose") {
        Ints perm = attrInts(n, "perm").value_or(Ints{});
        if (perm.empty())
            for (int64_t d = rank; d-- > 0;)
                perm.push_back(d);
        Ints sorted = perm;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t d = 0; d < rank; ++d)
            if (static_cast<int64_t>(sorted.size()) != rank || sorted[static_cast<size_t>(d)] != d)
                return Outcome::invalid(where() + ": perm " + intsText(perm) +
                                        " is not a permutation of " + std::to_string(rank) +
                                        " axes");
        Ints dims;
        for (int64_t p : perm)
            dims.push_back(data->dims[static_cast<size_t>(p)]);
        const Ints inStrides = stridesOf(data->dims), outStrides = stridesOf(dims);
        QAT_ONNX_TRY(charge(data->size()));
        out = remap(*data, dims, data->size(), [&](int64_t k) {
            int64_t src = 0;
            for (size_t a = 0; a < dims.size(); ++a) {
                src += (k / outStrides[a]) * inStrides[static_cast<size_t>(perm[a])];
                k %= outStrides[a];
            }
            return src;
        });
        return setConst(n, std::move(out));
    }
    if (op == "Cast") {
        const int64_t to = attrInt(n, "to", 0);
        out = *data;
        if (isFloatType(to) && !data->isFloat) {
            if (data->hasBatch() && m_fixedBatch == 0)
                return Outcome::unsupported("casting the symbolic batch size to float");
            out.isFloat = true;
            out.f.assign(data->i.begin(), data->i.end());
            out.i.clear();
            out.batch.clear();
        } else if (isIntType(to) && data->isFloat) {
            out.isFloat = false;
            out.i.clear();
            for (float v : data->f) {
                if (!std::isfinite(v) || std::abs(v) > 9.2e18f)
                    return Outcome::invalid(where() + ": cannot cast " + std::to_string(v) +
                                            " to an integer");
                out.i.push_back(static_cast<int64_t>(v));
            }
            out.f.clear();
            out.batch.assign(out.i.size(), 0);
        } else if (!isFloatType(to) && !isIntType(to)) {
            return Outcome::unsupported(std::string("Cast to ") +
                                        dataTypeName(static_cast<int>(to)));
        }
        if (to == onnx::TensorProto::BOOL && !out.isFloat)
            for (auto& v : out.i)
                v = v != 0;
        return setConst(n, std::move(out));
    }
    if (op == "ConstantOfShape") {
        if (data->isFloat || data->dims.size() != 1 || (data->hasBatch() && m_fixedBatch == 0))
            return Outcome::unsupported("ConstantOfShape needs a constant integer shape that "
                                        "does not depend on the batch size");
        Const fillValue;
        fillValue.f = {0.0f};
        if (const auto* a = findAttr(n, "value")) {
            QAT_ONNX_TRY(decodeTensor(a->t(), where() + " value", fillValue));
            if (fillValue.size() != 1)
                return Outcome::invalid(where() + ": value must have one element");
        }
        const auto count = boundedCount(data->i, m_foldBudget);
        if (!count)
            return charge(-1);
        QAT_ONNX_TRY(charge(*count));
        out.isFloat = fillValue.isFloat;
        out.dims = data->i;
        if (out.isFloat) {
            out.f.assign(static_cast<size_t>(*count), fillValue.f[0]);
        } else {
            out.i.assign(static_cast<size_t>(*count), fillValue.i[0]);
            out.batch.assign(static_cast<size_t>(*count), 0);
        }
        return setConst(n, std::move(out));
    }
    return Outcome::unsupported(op + " of constants is not folded");
}

bool isComputeOp(const std::string& op) {
    static const std::set<std::string> ops = {"Conv",
                                              "Gemm",
                                              "MatMul",
                                              "BatchNormalization",
                                              "Relu",
                                              "Clip",
                                              "LeakyRelu",
                                              "HardSwish",
                                              "Sigmoid",
                                              "Tanh",
                                              "MaxPool",
                                              "AveragePool",
                                              "GlobalAveragePool",
                                              "Add",
                                              "Concat",
                                              "Flatten",
                                              "Reshape",
                                              "Softmax",
                                              "Pad",
                                              "Dropout",
                                              "Identity",
                                              "HardSigmoid",
                                              "Mul"};
    return ops.count(op) != 0;
}

bool isFoldOnlyOp(const std::string& op) {
    static const std::set<std::string> ops = {"Constant", "Shape", "Gather",         "Unsqueeze",
                                              "Squeeze",  "Cast",  "Slice",          "Transpose",
                                              "Sub",      "Div",   "ConstantOfShape"};
    return ops.count(op) != 0;
}

Outcome OnnxImporter::convert(const onnx::NodeProto& n) {
    const std::string& op = m_opType;
    if (op == "Constant" || op == "Shape" || allInputsConst(n))
        return fold(n);
    if (isFoldOnlyOp(op))
        return Outcome::unsupported(op + " on activations is not supported (only constant "
                                         "subgraphs of it are folded)");
    if (op == "Conv")
        return convertConv(n);
    if (op == "MaxPool" || op == "AveragePool")
        return convertPool(n, op == "MaxPool");
    if (op == "GlobalAveragePool")
        return convertGlobalPool(n);
    if (op == "Gemm" || op == "MatMul")
        return convertGemm(n, op == "MatMul");
    if (op == "BatchNormalization")
        return convertBatchNorm(n);
    if (op == "Add")
        return convertAdd(n);
    if (op == "Concat")
        return convertConcat(n);
    if (op == "Flatten")
        return convertFlatten(n);
    if (op == "Reshape")
        return convertReshape(n);
    if (op == "Softmax")
        return convertSoftmax(n);
    if (op == "Pad")
        return convertPad(n);
    if (op == "Relu")
        return emitUnary(n, OpType::ReLU);
    if (op == "Sigmoid")
        return emitUnary(n, OpType::Sigmoid);
    if (op == "Tanh")
        return emitUnary(n, OpType::Tanh);
    if (op == "HardSwish")
        return emitUnary(n, OpType::HardSwish);
    if (op == "LeakyRelu") {
        Attrs attrs;
        attrs.set("alpha", static_cast<double>(attrFloat(n, "alpha", 0.01f)));
        return emitUnary(n, OpType::LeakyReLU, std::move(attrs));
    }
    if (op == "Clip") {
        float lo = 0, hi = 0;
        QAT_ONNX_TRY(clipBounds(n, lo, hi));
        return emitUnary(n, hi == 6.0f ? OpType::ReLU6 : OpType::ReLU);
    }
    if (op == "Dropout" || op == "Identity") {
        Dyn d;
        QAT_ONNX_TRY(dynInput(n, 0, d));
        ++m_elided;
        setDyn(n, std::move(d));
        return Outcome::ok();
    }
    if (op == "Mul") {
        auto it = m_hardSwishOf.find(m_nodeIndex);
        if (it == m_hardSwishOf.end())
            return Outcome::unsupported("Mul of activations is not supported (only "
                                        "x * HardSigmoid(x), which is HardSwish)");
        const Value* v = nullptr;
        QAT_ONNX_TRY(get(it->second, v));
        if (!v || v->kind != Value::Kind::Dyn)
            return Outcome::unsupported("HardSwish of a constant");
        Node node;
        node.name = m_nodeName;
        node.type = OpType::HardSwish;
        node.inputs = {v->d.node};
        Dyn out = v->d;
        out.biasless = false;
        QAT_ONNX_TRY(addNode(std::move(node), out.node));
        setDyn(n, std::move(out));
        return Outcome::ok();
    }
    return Outcome::unsupported("op type '" + op + "' is not supported");
}

// The model output: exactly one, computed from the input, in an order the graph keeps.
Status OnnxImporter::checkOutput(Graph& graph) {
    const auto& outs = m_graph.output();
    if (!m_explicitOutput)
        for (int k = 1; k < outs.size(); ++k)
            addUnsupported(outs[k].name(), "(graph output)",
                           "only one model output is supported; choose one to import (e.g. '" +
                               outs[0].name() + "') with the output option (--output NAME)");
    ImportedTensor info;
    info.name = m_mainOutput;
    const onnx::ValueInfoProto* declared = nullptr;
    for (const auto& o : outs)
        if (o.name() == m_mainOutput)
            declared = &o;
    for (const auto& o : m_graph.value_info())
        if (!declared && o.name() == m_mainOutput)
            declared = &o;
    if (declared && declared->type().has_tensor_type() &&
        declared->type().tensor_type().has_shape())
        for (const auto& d : declared->type().tensor_type().shape().dim())
            info.fileShape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    info.fileLayout = importer::fileLayoutName(info.fileShape.size(), true);
    const Value* v = nullptr;
    Outcome o = get(m_mainOutput, v);
    if (o.kind == Outcome::Kind::Invalid)
        return error(o.message);
    if (v && v->kind == Value::Kind::Const) {
        addUnsupported(m_mainOutput, "(graph output)",
                       "the output is a constant; the model does not depend on its input");
    } else if (v && v->kind == Value::Kind::Dyn) {
        const Dyn& d = v->d;
        const Shape& s = m_builder.shape(d.node);
        info.graphShape = s;
        info.graphLayout = importer::graphLayoutName(s.size());
        if (d.layout == Layout::Flat && !samePerm(d, Dyn{}))
            addUnsupported(m_mainOutput, "(graph output)",
                           "the output flattens an NCHW map in C,H,W order, which the NHWC graph "
                           "cannot reproduce without a transpose");
        else if (m_builder.find(d.node)->type == OpType::Input)
            addUnsupported(m_mainOutput, "(graph output)",
                           "the output is the model input itself; there is nothing to import");
        else if (d.layout == Layout::Chw)
            note("the NCHW output " + importer::fileShapeText(info.fileShape) + " is NHWC " +
                 shapeToString(s) + " in the graph");
        graph.output = d.node;
    }
    m_report.outputs.push_back(info);
    return Status::ok();
}

Result<ImportResult> OnnxImporter::run(const ImportOptions& options) {
    m_report.format = ModelFormat::Onnx;
    m_report.source = m_source;
    m_report.producer = m_model.producer_name();
    if (!m_model.producer_version().empty())
        m_report.producer += " " + m_model.producer_version();
    m_report.fileOps = m_graph.node_size();
    bool haveOpset = false;
    for (const auto& o : m_model.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") {
            m_opset = o.version();
            haveOpset = true;
        }
    if (!haveOpset && m_model.ir_version() >= 3)
        return error("the model imports no version of the default ONNX operator set");
    m_report.notes.push_back("ONNX IR version " + std::to_string(m_model.ir_version()) +
                             ", opset " + std::to_string(m_opset));
    QAT_RETURN_IF_ERROR(collectInitializers());
    std::vector<size_t> order;
    QAT_RETURN_IF_ERROR(sortNodes(order));
    QAT_RETURN_IF_ERROR(selectOutputs(options.outputName));
    findHardSwishPatterns();
    if (Outcome o = setUpInput(); o.kind == Outcome::Kind::Invalid)
        return error(o.message);
    if (const size_t skipped = order.size() - m_live.size(); skipped > 0)
        note(std::to_string(skipped) + " nodes that the imported output does not depend on "
                                       "were skipped");

    for (size_t index : order) {
        if (!m_live.count(index))
            continue;
        const onnx::NodeProto& n = m_graph.node(static_cast<int>(index));
        m_nodeIndex = index;
        m_nodeName = nodeLabel(index);
        m_opType = opKey(n);
        if (m_fusedAway.count(index))
            continue;
        if (n.output_size() == 0 || n.output(0).empty())
            return error(where() + ": has no output");
        if (!isComputeOp(m_opType) && !isFoldOnlyOp(m_opType)) {
            addUnsupported(m_nodeName, m_opType,
                           "op type '" + m_opType + "' is not supported by the importer");
            poisonOutputs(n);
            continue;
        }
        Outcome o = staticCheck(n);
        bool poisoned = false;
        for (int k = 0; o.isOk() && k < n.input_size(); ++k) {
            if (n.input(k).empty())
                continue;
            const Value* v = nullptr;
            o = get(n.input(k), v);
            poisoned = poisoned || (v && v->kind == Value::Kind::Poisoned);
        }
        if (o.isOk() && !poisoned)
            o = convert(n);
        if (o.kind == Outcome::Kind::Invalid)
            return error(o.message);
        if (o.kind == Outcome::Kind::Unsupported)
            addUnsupported(m_nodeName, m_opType, o.message);
        if (!o.isOk() || poisoned) {
            poisonOutputs(n);
            continue;
        }
        QAT_ASSERT(m_values.count(n.output(0)) != 0);
    }

    Graph graph;
    QAT_RETURN_IF_ERROR(checkOutput(graph));
    if (!m_folded.empty()) {
        std::string text;
        int total = 0;
        for (const auto& [op, count] : m_folded) {
            text +=
                (text.empty() ? "" : ", ") + op + (count > 1 ? " x" + std::to_string(count) : "");
            total += count;
        }
        note(std::to_string(total) + " constant nodes folded (" + text + ")");
    }
    if (m_elided > 0)
        note(std::to_string(m_elided) + " Dropout/Identity/zero-Pad nodes elided");
    if (!m_report.unsupported.empty()) {
        importer::markNotImported(m_report, options);
        ImportResult result;
        result.report = std::move(m_report);
        return result;
    }
    const std::string output = graph.output;
    graph = m_builder.take();
    graph.output = output;
    auto result = importer::finishImport(std::move(graph), std::move(m_report), options);
    if (!result)
        return result.status().withContext(m_source);
    return result;
}

} // namespace

Result<ImportResult> importOnnxBytes(std::span<const uint8_t> bytes, const std::string& sourceName,
                                     const ImportOptions& options) {
    try {
        if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
            return Status::error(sourceName + ": too large for an ONNX protobuf (over 2 GiB)");
        onnx::ModelProto model;
        if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
            return Status::error(sourceName +
                                 ": not a model file QAT Lab can read (neither an ONNX protobuf, "
                                 "a .tflite flatbuffer nor a QAT Lab model; the file may be "
                                 "truncated or corrupt)");
        if (!model.has_graph() || model.graph().node_size() == 0)
            return Status::error(sourceName +
                                 ": parses as protobuf but holds no ONNX graph (not an ONNX "
                                 "model, or truncated)");
        OnnxImporter importer(model, sourceName, bytes.size());
        return importer.run(options);
    } catch (const std::bad_alloc&) {
        return Status::error(sourceName + ": out of memory while importing");
    } catch (const std::exception& e) {
        return Status::error(sourceName + ": import failed: " + e.what());
    }
}

} // namespace qat
