// TfliteBuilder: the bytes it writes parse back with the flatc-generated reader (and pass
// its verifier) with the conventions the runtimes need: "TFL3" identifier, version 3, an
// empty buffers[0], 16-byte aligned buffer data, both operator-code fields, deduplicated
// operator codes, quantization parameters and builtin options as given. Invalid models
// are refused with messages naming the tensor or operator.
#include <gtest/gtest.h>

#include <cstring>

#include "io/tflite/tflite_builder.h"
#include "io/tflite/tflite_schema.h"

namespace qat::tflite {
namespace {

const fb::Model* parse(const std::vector<uint8_t>& bytes) {
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!fb::VerifyModelBuffer(verifier))
        return nullptr;
    return fb::GetModel(bytes.data());
}

std::vector<int32_t> ints(const flatbuffers::Vector<int32_t>* v) {
    return v ? std::vector<int32_t>(v->begin(), v->end()) : std::vector<int32_t>{};
}

// input [1,4] -> FULLY_CONNECTED (weights [3,4], bias [3]) -> [1,3] -> SOFTMAX -> [1,3]
TfliteBuilder smallModel() {
    TfliteBuilder b;
    const int32_t in = b.addTensor("input", {1, 4}, TensorType::Float32);
    const int32_t w =
        b.addConstTensor("fc/weights", {3, 4}, TensorType::Float32, std::vector<float>(12, 0.5f));
    const int32_t bias =
        b.addConstTensor("fc/bias", {3}, TensorType::Float32, std::vector<float>{1.0f, 2.0f, 3.0f});
    const int32_t fc = b.addTensor("fc", {1, 3}, TensorType::Float32);
    const int32_t out = b.addTensor("softmax", {1, 3}, TensorType::Float32);
    b.addOperator(BuiltinOp::FullyConnected, 1, {in, w, bias}, {fc}, FullyConnectedOptions{});
    b.addOperator(BuiltinOp::Softmax, 1, {fc}, {out}, SoftmaxOptions{1.0f});
    b.setInputs({in});
    b.setOutputs({out});
    return b;
}

TEST(TfliteBuilder, WritesIdentifierVersionDescriptionAndEmptySentinelBuffer) {
    auto bytes = smallModel().finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    ASSERT_GE(bytes->size(), 8u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes->data()) + 4, 4), "TFL3");
    EXPECT_TRUE(fb::ModelBufferHasIdentifier(bytes->data()));
    const fb::Model* model = parse(*bytes);
    ASSERT_NE(model, nullptr) << "flatbuffers verifier rejected the model";
    EXPECT_EQ(model->version(), 3u);
    ASSERT_NE(model->description(), nullptr);
    EXPECT_EQ(model->description()->str(), "QAT Lab");
    ASSERT_NE(model->buffers(), nullptr);
    ASSERT_EQ(model->buffers()->size(), 3u); // sentinel + weights + bias
    const fb::Buffer* sentinel = model->buffers()->Get(0);
    EXPECT_TRUE(sentinel->data() == nullptr || sentinel->data()->size() == 0);

    ASSERT_EQ(model->subgraphs()->size(), 1u);
    const fb::SubGraph* sg = model->subgraphs()->Get(0);
    EXPECT_EQ(ints(sg->inputs()), std::vector<int32_t>{0});
    EXPECT_EQ(ints(sg->outputs()), std::vector<int32_t>{4});
    ASSERT_EQ(sg->tensors()->size(), 5u);
    const fb::Tensor* in = sg->tensors()->Get(0);
    EXPECT_EQ(in->name()->str(), "input");
    EXPECT_EQ(ints(in->shape()), (std::vector<int32_t>{1, 4}));
    EXPECT_EQ(in->type(), fb::TensorType_FLOAT32);
    EXPECT_EQ(in->buffer(), 0u); // activations point at the sentinel
    EXPECT_EQ(in->quantization(), nullptr);
    const fb::Tensor* bias = sg->tensors()->Get(2);
    ASSERT_EQ(bias->buffer(), 2u);
    const auto* data = model->buffers()->Get(2)->data();
    ASSERT_EQ(data->size(), 12u);
    float values[3];
    std::memcpy(values, data->data(), sizeof values);
    EXPECT_EQ(values[0], 1.0f);
    EXPECT_EQ(values[2], 3.0f);

    ASSERT_EQ(sg->operators()->size(), 2u);
    const fb::Operator* fc = sg->operators()->Get(0);
    EXPECT_EQ(ints(fc->inputs()), (std::vector<int32_t>{0, 1, 2}));
    EXPECT_EQ(ints(fc->outputs()), std::vector<int32_t>{3});
    EXPECT_EQ(fc->builtin_options_type(), fb::BuiltinOptions_FullyConnectedOptions);
    EXPECT_EQ(static_cast<int>(fc->builtin_options_type()), 8);
    const fb::Operator* sm = sg->operators()->Get(1);
    EXPECT_EQ(static_cast<int>(sm->builtin_options_type()), 9);
    ASSERT_NE(sm->builtin_options_as_SoftmaxOptions(), nullptr);
    EXPECT_EQ(sm->builtin_options_as_SoftmaxOptions()->beta(), 1.0f);
}

TEST(TfliteBuilder, BufferDataIsSixteenByteAlignedInTheFile) {
    TfliteBuilder b;
    const int32_t in = b.addTensor("input", {1, 1}, TensorType::Int8);
    std::vector<int32_t> consts;
    // Odd sizes, so that unaligned packing would show.
    for (int n : {1, 3, 17, 5, 33, 2}) {
        std::vector<int8_t> values(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i)
            values[static_cast<size_t>(i)] = static_cast<int8_t>(n + i);
        std::string name = "c"; // not "c" + to_string(n): GCC 12 -Wrestrict false positive
        name += std::to_string(n);
        consts.push_back(b.addConstTensor(name, {n}, TensorType::Int8, values));
    }
    const int32_t out = b.addTensor("out", {1, 1}, TensorType::Int8);
    b.addOperator(BuiltinOp::Relu, 2, {in}, {out});
    b.setInputs({in});
    b.setOutputs({out});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    const fb::Model* model = parse(*bytes);
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->buffers()->size(), 7u);
    for (uint32_t i = 1; i < model->buffers()->size(); ++i) {
        const auto* data = model->buffers()->Get(i)->data();
        ASSERT_NE(data, nullptr);
        const auto offset = static_cast<size_t>(data->data() - bytes->data());
        EXPECT_EQ(offset % 16, 0u) << "buffer " << i << " at offset " << offset;
        const auto n = static_cast<int>(data->size());
        EXPECT_EQ(static_cast<int8_t>(data->Get(0)), static_cast<int8_t>(n));
        EXPECT_EQ(static_cast<int8_t>(data->Get(static_cast<uint32_t>(n - 1))),
                  static_cast<int8_t>(2 * n - 1));
    }
}

TEST(TfliteBuilder, OperatorCodesSetBothFieldsAndAreDeduplicatedByCodeAndVersion) {
    TfliteBuilder b;
    const int32_t x = b.addTensor("x", {1, 4}, TensorType::Float32);
    const int32_t y = b.addTensor("y", {1, 4}, TensorType::Float32);
    EXPECT_EQ(b.operatorCode(BuiltinOp::Relu, 1), 0u);
    EXPECT_EQ(b.operatorCode(BuiltinOp::Relu, 1), 0u);
    EXPECT_EQ(b.operatorCode(BuiltinOp::Relu, 2), 1u);
    b.addOperator(BuiltinOp::Relu, 1, {x}, {y});
    b.addOperator(BuiltinOp::HardSwish, 1, {y}, {x}, HardSwishOptions{});
    b.addOperator(BuiltinOp::Relu, 1, {x}, {y});
    // A code past the int8 range (GELU = 150) must cap the deprecated field at 127.
    b.addOperator(static_cast<BuiltinOp>(150), 1, {y}, {x});
    b.setInputs({x});
    b.setOutputs({y});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    const fb::Model* model = parse(*bytes);
    ASSERT_NE(model, nullptr);
    const auto* codes = model->operator_codes();
    ASSERT_EQ(codes->size(), 4u); // RELU v1, RELU v2, HARD_SWISH v1, GELU v1
    EXPECT_EQ(codes->Get(0)->builtin_code(), fb::BuiltinOperator_RELU);
    EXPECT_EQ(codes->Get(0)->deprecated_builtin_code(), 19);
    EXPECT_EQ(codes->Get(0)->version(), 1);
    EXPECT_EQ(codes->Get(1)->builtin_code(), fb::BuiltinOperator_RELU);
    EXPECT_EQ(codes->Get(1)->version(), 2);
    EXPECT_EQ(codes->Get(2)->builtin_code(), fb::BuiltinOperator_HARD_SWISH);
    EXPECT_EQ(codes->Get(2)->deprecated_builtin_code(), 117);
    EXPECT_EQ(codes->Get(3)->builtin_code(), fb::BuiltinOperator_GELU);
    EXPECT_EQ(codes->Get(3)->deprecated_builtin_code(), 127);
    for (uint32_t i = 0; i < codes->size(); ++i)
        EXPECT_EQ(fb::builtinCode(*codes->Get(i)), codes->Get(i)->builtin_code());
    const auto* ops = model->subgraphs()->Get(0)->operators();
    ASSERT_EQ(ops->size(), 4u);
    EXPECT_EQ(ops->Get(0)->opcode_index(), 0u);
    EXPECT_EQ(ops->Get(1)->opcode_index(), 2u);
    EXPECT_EQ(ops->Get(2)->opcode_index(), 0u);
    EXPECT_EQ(ops->Get(3)->opcode_index(), 3u);
    EXPECT_EQ(static_cast<int>(ops->Get(1)->builtin_options_type()), 91);
    EXPECT_EQ(ops->Get(0)->builtin_options_type(), fb::BuiltinOptions_NONE);
    EXPECT_STREQ(builtinOpName(BuiltinOp::DepthwiseConv2D), "DEPTHWISE_CONV_2D");
    EXPECT_STREQ(builtinOpName(BuiltinOp::HardSwish), "HARD_SWISH");
}

TEST(TfliteBuilder, QuantizationParametersRoundTripPerAxisAndPerTensor) {
    TfliteBuilder b;
    const int32_t in =
        b.addTensor("input", {1, 5, 5, 2}, TensorType::Int8, 0, Quantization{{0.25f}, {-3}, 0});
    Quantization perAxis{{0.5f, 0.125f, 2.0f}, {0, 0, 0}, 0};
    const int32_t w = b.addConstTensor("conv/filter", {3, 1, 1, 2}, TensorType::Int8,
                                       std::vector<int8_t>(6, 1), perAxis);
    Quantization depthwise{{1.0f, 2.0f, 3.0f, 4.0f}, {0, 0, 0, 0}, 3};
    const int32_t dw = b.addConstTensor("dw/filter", {1, 3, 3, 4}, TensorType::Int8,
                                        std::vector<int8_t>(36, 1), depthwise);
    const int32_t bias =
        b.addConstTensor("conv/bias", {3}, TensorType::Int32, std::vector<int32_t>{1, -2, 3},
                         Quantization{{0.125f, 0.03125f, 0.5f}, {0, 0, 0}, 0});
    const int32_t int4 =
        b.addConstTensor("w4", {5}, TensorType::Int4, std::vector<uint8_t>{0x12, 0x34, 0x05},
                         Quantization{{0.5f}, {0}, 0});
    const int32_t out =
        b.addTensor("out", {1, 5, 5, 3}, TensorType::Int8, 0, Quantization{{0.1f}, {127}, 0});
    Conv2DOptions conv;
    conv.padding = Padding::Same;
    conv.activation = Activation::Relu6;
    conv.dilationH = 2;
    conv.strideW = 3;
    b.addOperator(BuiltinOp::Conv2D, 3, {in, w, bias}, {out}, conv);
    b.setInputs({in});
    b.setOutputs({out});
    (void)dw;
    (void)int4;
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    const fb::Model* model = parse(*bytes);
    ASSERT_NE(model, nullptr);
    const auto* tensors = model->subgraphs()->Get(0)->tensors();

    auto check = [&](int32_t index, const Quantization& want) {
        SCOPED_TRACE(tensors->Get(static_cast<uint32_t>(index))->name()->str());
        const fb::QuantizationParameters* q =
            tensors->Get(static_cast<uint32_t>(index))->quantization();
        ASSERT_NE(q, nullptr);
        ASSERT_NE(q->scale(), nullptr);
        ASSERT_NE(q->zero_point(), nullptr);
        EXPECT_EQ(std::vector<float>(q->scale()->begin(), q->scale()->end()), want.scales);
        EXPECT_EQ(std::vector<int64_t>(q->zero_point()->begin(), q->zero_point()->end()),
                  want.zeroPoints);
        EXPECT_EQ(q->quantized_dimension(), want.quantizedDimension);
        EXPECT_EQ(q->details_type(), fb::QuantizationDetails_NONE);
    };
    check(in, Quantization{{0.25f}, {-3}, 0});
    check(w, perAxis);
    check(dw, depthwise);
    check(out, Quantization{{0.1f}, {127}, 0});
    EXPECT_EQ(tensors->Get(static_cast<uint32_t>(int4))->type(), fb::TensorType_INT4);
    EXPECT_EQ(static_cast<int>(fb::TensorType_INT4), 17);
    EXPECT_EQ(tensors->Get(static_cast<uint32_t>(bias))->type(), fb::TensorType_INT32);

    const fb::Operator* op = model->subgraphs()->Get(0)->operators()->Get(0);
    const fb::Conv2DOptions* o = op->builtin_options_as_Conv2DOptions();
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->padding(), fb::Padding_SAME);
    EXPECT_EQ(o->fused_activation_function(), fb::ActivationFunctionType_RELU6);
    EXPECT_EQ(o->dilation_h_factor(), 2);
    EXPECT_EQ(o->dilation_w_factor(), 1);
    EXPECT_EQ(o->stride_w(), 3);
    EXPECT_EQ(o->stride_h(), 1);
    EXPECT_EQ(model->operator_codes()->Get(0)->version(), 3);
}

TEST(TfliteBuilder, BuiltinOptionsUseTheSchemaUnionIndices) {
    TfliteBuilder b;
    const int32_t x = b.addTensor("x", {1, 2, 2, 4}, TensorType::Float32);
    const int32_t y = b.addTensor("y", {1, 16}, TensorType::Float32);
    const int32_t shape =
        b.addConstTensor("shape", {2}, TensorType::Int32, std::vector<int32_t>{1, 16});
    b.addOperator(BuiltinOp::Reshape, 1, {x, shape}, {y}, ReshapeOptions{{1, 16}});
    DepthwiseConv2DOptions dw;
    dw.depthMultiplier = 2;
    b.addOperator(BuiltinOp::DepthwiseConv2D, 1, {x}, {y}, dw);
    b.addOperator(BuiltinOp::AveragePool2D, 1, {x}, {y}, Pool2DOptions{});
    b.addOperator(BuiltinOp::Concatenation, 1, {x, x}, {y}, ConcatenationOptions{3});
    b.addOperator(BuiltinOp::Add, 1, {x, x}, {y}, AddOptions{Activation::Relu});
    b.addOperator(BuiltinOp::Mul, 1, {x, x}, {y}, MulOptions{});
    b.addOperator(BuiltinOp::Pad, 1, {x}, {y}, PadOptions{});
    b.addOperator(BuiltinOp::Mean, 1, {x}, {y}, ReducerOptions{true});
    b.addOperator(BuiltinOp::Dequantize, 1, {x}, {y}, DequantizeOptions{});
    b.addOperator(BuiltinOp::PadV2, 1, {x}, {y}, PadV2Options{});
    b.addOperator(BuiltinOp::LeakyRelu, 1, {x}, {y}, LeakyReluOptions{0.3f});
    b.addOperator(BuiltinOp::Quantize, 1, {x}, {y}, QuantizeOptions{});
    b.setInputs({x});
    b.setOutputs({y});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    const fb::Model* model = parse(*bytes);
    ASSERT_NE(model, nullptr);
    const auto* ops = model->subgraphs()->Get(0)->operators();
    const std::vector<int> want = {17, 2, 5, 10, 11, 21, 22, 27, 38, 43, 75, 89};
    ASSERT_EQ(ops->size(), want.size());
    for (uint32_t i = 0; i < ops->size(); ++i)
        EXPECT_EQ(static_cast<int>(ops->Get(i)->builtin_options_type()), want[i]) << "op " << i;
    EXPECT_EQ(ints(ops->Get(0)->builtin_options_as_ReshapeOptions()->new_shape()),
              (std::vector<int32_t>{1, 16}));
    EXPECT_EQ(ops->Get(1)->builtin_options_as_DepthwiseConv2DOptions()->depth_multiplier(), 2);
    EXPECT_EQ(ops->Get(3)->builtin_options_as_ConcatenationOptions()->axis(), 3);
    EXPECT_EQ(ops->Get(4)->builtin_options_as_AddOptions()->fused_activation_function(),
              fb::ActivationFunctionType_RELU);
    EXPECT_TRUE(ops->Get(7)->builtin_options_as_ReducerOptions()->keep_dims());
    EXPECT_FLOAT_EQ(ops->Get(10)->builtin_options_as_LeakyReluOptions()->alpha(), 0.3f);
}

TEST(TfliteBuilder, RejectsConstantDataOfTheWrongSizeNamingTheTensor) {
    TfliteBuilder b = smallModel();
    b.addConstTensor("bad/weights", {2, 3}, TensorType::Float32, std::vector<float>(5, 0.0f));
    auto bytes = b.finish();
    ASSERT_FALSE(bytes.isOk());
    EXPECT_NE(bytes.message().find("'bad/weights'"), std::string::npos) << bytes.message();
    EXPECT_NE(bytes.message().find("24 bytes"), std::string::npos) << bytes.message();
    EXPECT_EQ(tensorDataBytes(TensorType::Int4, 5), 3);
    EXPECT_EQ(tensorDataBytes(TensorType::Float16, 5), 10);
}

TEST(TfliteBuilder, RejectsPerAxisScalesThatDoNotMatchTheDimension) {
    TfliteBuilder b = smallModel();
    b.addTensor("q", {4, 3}, TensorType::Int8, 0, Quantization{{1.0f, 2.0f}, {0, 0}, 0});
    auto bytes = b.finish();
    ASSERT_FALSE(bytes.isOk());
    EXPECT_NE(bytes.message().find("'q'"), std::string::npos) << bytes.message();

    TfliteBuilder c = smallModel();
    c.addTensor("z", {4}, TensorType::Int8, 0, Quantization{{1.0f}, {}, 0});
    EXPECT_FALSE(c.finish().isOk());

    TfliteBuilder d = smallModel();
    d.addTensor("s", {4}, TensorType::Int8, 0, Quantization{{0.0f}, {0}, 0});
    auto e = d.finish();
    ASSERT_FALSE(e.isOk());
    EXPECT_NE(e.message().find("positive"), std::string::npos) << e.message();
}

TEST(TfliteBuilder, RejectsBadIndicesNamingTheOperator) {
    TfliteBuilder b = smallModel();
    b.addOperator(BuiltinOp::Relu, 1, {42}, {0});
    auto bytes = b.finish();
    ASSERT_FALSE(bytes.isOk());
    EXPECT_NE(bytes.message().find("operator 2 (RELU)"), std::string::npos) << bytes.message();

    TfliteBuilder c = smallModel();
    c.addTensor("dangling", {1}, TensorType::Float32, 99);
    EXPECT_FALSE(c.finish().isOk());

    TfliteBuilder d;
    d.addTensor("x", {1}, TensorType::Float32);
    auto e = d.finish();
    ASSERT_FALSE(e.isOk());
    EXPECT_NE(e.message().find("input"), std::string::npos) << e.message();

    // -1 marks an omitted optional input and is accepted.
    TfliteBuilder f = smallModel();
    f.addOperator(BuiltinOp::FullyConnected, 1, {0, 1, -1}, {3}, FullyConnectedOptions{});
    EXPECT_TRUE(f.finish().isOk());
}

} // namespace
} // namespace qat::tflite
