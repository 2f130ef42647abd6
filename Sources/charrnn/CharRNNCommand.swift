import ArgumentParser
import Foundation
import CharRNN

@main
struct CharRNNCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charrnn",
        abstract: "Train, sample and evaluate character-level RNN, LSTM and GRU language models.",
        discussion: """
        Train a model on any UTF-8 text file, generate text in its style, and measure how well a model \
        predicts held-out text. Checkpoints are safetensors files that PyTorch loads unchanged.

        Example:
          charrnn train input.txt --output runs/shakespeare --max-time 300
          charrnn sample --checkpoint runs/shakespeare --prime "ROMEO:" --length 300 --temperature 0.8
          charrnn eval --checkpoint runs/shakespeare held-out.txt
          charrnn serve --checkpoint runs/shakespeare
        """,
        version: CharRNNVersion.current,
        subcommands: [Train.self, Sample.self, Eval.self, Classify.self, Serve.self, Bench.self, Devices.self]
    )

    /// Every error is one line on stderr and a non-zero exit: 1 for a failure, 64 for a usage error.
    static func main() async {
        Terminal.holdStandardStreams()
        do {
            try DefaultDevice.check()
            var command = try parseAsRoot()
            // The documentation's commands are checked against the parser (DocumentedCommandsTests)
            // without running them: parsed and validated, then nothing.
            if ProcessInfo.processInfo.environment["CHARRNN_PARSE_ONLY"] == "1" { Terminal.exit(0) }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CharRNNError {
            Terminal.fail(error.description, code: 1)
        } catch let error as ExitCode {
            Terminal.exit(error.rawValue)
        } catch {
            if exitCode(for: error) == .success {  // --help: written as any output is, so a write failure is an error
                let text = fullMessage(for: error)
                if !text.isEmpty { Terminal.write(text.hasSuffix("\n") ? text : text + "\n") }
                Terminal.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            Terminal.fail(message + " (see 'charrnn help')", code: 64)
        }
    }
}
