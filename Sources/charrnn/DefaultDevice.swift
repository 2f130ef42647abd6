import ArgumentParser
import CharRNN
import Foundation

/// The `--device` a command takes when none is given: `auto` (a usable GPU, else the CPU), unless
/// CHARRNN_DEVICE names another (`cpu` keeps a machine with a GPU on its CPU; the tests set it).
enum DefaultDevice {
    private static var named: String { ProcessInfo.processInfo.environment["CHARRNN_DEVICE"] ?? "" }

    static var text: String { named.isEmpty ? "auto" : named }

    /// A CHARRNN_DEVICE that names no device is refused by every command, as a bad --device would be,
    /// but by its own name.
    static func check() throws {
        guard !named.isEmpty, (try? DeviceChoice(parsing: named)) == nil else { return }
        throw CharRNNError.invalidOption("CHARRNN_DEVICE must be auto, cpu, cuda or cuda:N (got '\(named)')")
    }

    /// --device's help in every command: the choices and the default, then what the command adds.
    static func help(_ more: String) -> ArgumentHelp {
        ArgumentHelp("cpu, cuda, cuda:N or auto (the default: a usable GPU, else the CPU; CHARRNN_DEVICE sets another default)" + more)
    }
}

extension DeviceChoice {
    /// open(), with a line on stderr when `auto` took a GPU, for the commands whose own output does not
    /// say where they ran (the CPU needs no note: it is where they always ran).
    func openSayingWhere(precision: String = "fp32") throws -> ComputeDevice? {
        let device = try open(precision: precision)
        if self == .auto, let device { Terminal.error("charrnn: on \(device.name) (--device auto; --device cpu for the CPU)") }
        return device
    }
}

/// --device, declared once for the commands that read a model and may run it on a GPU. Its value is
/// checked as it is parsed; the default is `auto`, or CHARRNN_DEVICE's.
struct DeviceOption: ParsableArguments {
    @Option(help: DefaultDevice.help("; see 'charrnn devices'."), transform: { try DeviceChoice(parsing: $0) })
    var device: DeviceChoice = (try? DeviceChoice(parsing: DefaultDevice.text)) ?? .auto
}
