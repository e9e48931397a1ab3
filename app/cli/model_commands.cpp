// qatlab-cli zoo / info: what models exist and what a model looks like layer by layer.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "qat/model_io.h"

namespace qat::cli {

namespace {

int64_t nodeParamCount(const Node& node) {
    int64_t n = 0;
    for (const auto& [name, tensor] : node.params)
        n += tensor.size();
    return n;
}

int runZoo() {
    const auto names = zooModelNames();
    if (names.empty())
        return fail("no zoo models found in '" + resourceDir() +
                    "/zoo' (set QATLAB_RESOURCES to the directory holding zoo/)");
    size_t width = 5;
    for (const auto& name : names)
        width = std::max(width, name.size());
    std::printf("%-*s  %12s  %-12s  %s\n", static_cast<int>(width), "model", "parameters", "input",
                "output");
    int failures = 0;
    for (const auto& name : names) {
        auto graph = loadModelOrZoo(name);
        if (!graph) {
            std::printf("%-*s  %12s  %s\n", static_cast<int>(width), name.c_str(), "-",
                        ("(cannot load: " + graph.message() + ")").c_str());
            ++failures;
            continue;
        }
        std::printf("%-*s  %12lld  %-12s  %s\n", static_cast<int>(width), name.c_str(),
                    static_cast<long long>(graph->parameterCount()),
                    shapeToString(graph->inputShape()).c_str(),
                    shapeToString(graph->outputShape()).c_str());
    }
    return failures == 0 ? kExitOk : kExitError;
}

int runInfo(const std::string& model, const std::string& inputShapeText) {
    std::optional<Shape> inputShape;
    if (!inputShapeText.empty())
        inputShape = parseShape(inputShapeText);
    auto loaded = loadModelOrZoo(model, inputShape);
    if (!loaded)
        return fail(loaded.message());
    const Graph& graph = loaded.value();

    size_t nameWidth = 4, typeWidth = 4, shapeWidth = 12;
    for (const Node& node : graph.nodes) {
        nameWidth = std::max(nameWidth, node.name.size());
        typeWidth = std::max(typeWidth, std::string(opTypeName(node.type)).size());
        shapeWidth = std::max(shapeWidth, shapeToString(node.outputShape).size());
    }
    const int nw = static_cast<int>(nameWidth), tw = static_cast<int>(typeWidth),
              sw = static_cast<int>(shapeWidth);
    std::printf("%s: %zu nodes, input %s, output %s\n\n", model.c_str(), graph.nodes.size(),
                shapeToString(graph.inputShape()).c_str(),
                shapeToString(graph.outputShape()).c_str());
    std::printf("%-*s  %-*s  %-*s  %10s\n", nw, "name", tw, "type", sw, "output shape", "params");
    for (const Node& node : graph.nodes)
        std::printf("%-*s  %-*s  %-*s  %10lld\n", nw, node.name.c_str(), tw, opTypeName(node.type),
                    sw, shapeToString(node.outputShape).c_str(),
                    static_cast<long long>(nodeParamCount(node)));
    std::printf("\ntotal parameters: %lld\n", static_cast<long long>(graph.parameterCount()));
    return kExitOk;
}

} // namespace

Command addZooCommand(CLI::App& parent) {
    CLI::App* sub = parent.add_subcommand("zoo", "List the built-in models with parameter counts");
    return {sub, [] { return runZoo(); }};
}

Command addInfoCommand(CLI::App& parent) {
    struct Options {
        std::string model;
        std::string inputShape;
    };
    auto opt = std::make_shared<Options>();
    CLI::App* sub =
        parent.add_subcommand("info", "Print a model's layer table (name, type, shape, params)");
    sub->add_option("MODEL", opt->model, "Zoo model name or model file")->required();
    sub->add_option("--input-shape", opt->inputShape,
                    "Input shape HxWxC for zoo models and weightless graph files")
        ->check(shapeValidator());
    return {sub, [opt] { return runInfo(opt->model, opt->inputShape); }};
}

} // namespace qat::cli
