// qatlab-cli: the command-line composition root. Parses arguments, dispatches to one
// subcommand (app/cli/*_command.cpp), and is the single error boundary: nothing escapes
// main() as an exception; errors print "qatlab-cli: error: ..." and exit 1 (usage: 2).
#include <algorithm>
#include <exception>
#include <iostream>
#include <vector>

#include "cli/command.h"

#ifndef QAT_VERSION
#define QAT_VERSION "unknown"
#endif

int main(int argc, char** argv) {
    using namespace qat::cli;
    CLI::App app{"QAT Lab command line: train, quantize, export and benchmark models",
                 "qatlab-cli"};
    app.set_version_flag("--version", QAT_VERSION);
    app.require_subcommand(1);
    app.footer("\nRun 'qatlab-cli COMMAND --help' for the options of a command.");

    std::vector<Command> commands;
    commands.push_back(addTrainCommand(app));
    commands.push_back(addZooCommand(app));
    commands.push_back(addInfoCommand(app));
    commands.push_back(addQuantizeCommand(app));
    commands.push_back(addExportCommand(app));
    commands.push_back(addBenchCommand(app));
    commands.push_back(addImportCommand(app));

    if (argc <= 1) {
        std::cerr << app.help();
        return kExitUsage;
    }
    // Usage errors are one line too, pointing at the relevant --help.
    const std::string first = argv[1];
    const bool isCommand = std::any_of(commands.begin(), commands.end(), [&](const Command& c) {
        return c.app->get_name() == first;
    });
    auto usageError = [&](const std::string& message) {
        std::cerr << "qatlab-cli: error: " << message << " (see 'qatlab-cli "
                  << (isCommand ? first + " " : std::string()) << "--help')" << std::endl;
        return kExitUsage;
    };
    // CLI11 reports an unknown first word as "A subcommand is required"; say what it is.
    if (!first.empty() && first[0] != '-' && !isCommand) {
        std::string names;
        for (const Command& c : commands)
            names += (names.empty() ? "" : ", ") + c.app->get_name();
        return usageError("unknown command '" + first + "' (commands: " + names + ")");
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return usageError(e.what());
    }

    try {
        for (const Command& command : commands)
            if (command.app->parsed())
                return command.run();
    } catch (const std::exception& e) {
        return fail(std::string("unexpected failure: ") + e.what());
    }
    return fail("no command selected");
}
