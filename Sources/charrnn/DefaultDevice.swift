import CharRNN
import Foundation

/// The `--device` a command takes when none is given: `auto` (a usable GPU, else the CPU), unless
/// CHARRNN_DEVICE names another (`cpu` keeps a machine with a GPU on its CPU; the tests set it).
enum DefaultDevice {
    static var text: String {
        let named = ProcessInfo.processInfo.environment["CHARRNN_DEVICE"] ?? ""
        return named.isEmpty ? "auto" : named
    }

    /// A CHARRNN_DEVICE that names no device is refused by every command, as a bad --device would be,
    /// but by its own name.
    static func check() throws {
        let named = ProcessInfo.processInfo.environment["CHARRNN_DEVICE"] ?? ""
        guard !named.isEmpty, (try? DeviceChoice(parsing: named)) == nil else { return }
        throw CharRNNError.invalidOption("CHARRNN_DEVICE must be auto, cpu, cuda or cuda:N (got '\(named)')")
    }

    static let help = "cpu, cuda, cuda:N or auto (the default: a usable GPU, else the CPU; CHARRNN_DEVICE sets another default); see 'charrnn devices'."
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
