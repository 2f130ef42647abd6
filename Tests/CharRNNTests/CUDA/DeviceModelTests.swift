import CharRNN
import XCTest

/// The GPU path's model on the emulated device against CharRNNModel on the CPU: logits, loss, every
/// gradient and the carried state, for each cell, with an embedding and one-hot, from a non-zero state.
/// Dropout and the AWD regularisers draw other masks than the CPU's, so they are checked by finite
/// differences with the masks held fixed (the same seed before every forward).
final class DeviceModelTests: XCTestCase {
    nonisolated(unsafe) static let device: EmulatedDevice = try! EmulatedDevice()

    func compare(_ cell: CellKind, embed: Int, layers: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        let V = 11, H = 17, T = 5, B = 3
        let config = ModelConfig(cell: cell, layers: layers, hidden: H, embed: embed, vocabSize: V)
        let cpu = randomModel(config, seed: 21, scale: 1.5)
        let gpu = try DeviceModel(config: config, device: Self.device)
        try gpu.setParameters(cpu.parameters)
        let inputs = randomIds(T * B, vocab: V, seed: 22), targets = randomIds(T * B, vocab: V, seed: 23)
        var srng = RandomGenerator(seed: 24)
        let cpuState = cpu.hiddenState(batch: B)
        let h0 = (0..<cpuState.valueCount).map { _ in srng.nextFloat() - 0.5 }
        cpuState.load(h0)
        let gpuState = try gpu.hiddenState(batch: B)
        try gpuState.load(h0)
        let what = "\(cell) L\(layers) E\(embed)"

        var rng = RandomGenerator(seed: 1)
        let cpuLoss = inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                cpu.lossAndGradients(x.baseAddress!, targets: y.baseAddress!, T: T, B: B, state: cpuState, rng: &rng)
            }
        }
        try gpu.lossAndGradients(inputs, targets: targets, T: T, B: B, state: gpuState, rng: &rng)
        let gpuLoss = try gpu.lastLossSum() / Double(T * B)
        XCTAssertEqual(gpuLoss, cpuLoss, accuracy: 1e-5 * max(1, cpuLoss), "\(what): loss", file: file, line: line)
        let cpuGrads = cpu.gradients.array, gpuGrads = try gpu.gradientValues()
        for slot in cpu.layout.slots {
            let want = Array(cpuGrads[slot.offset..<(slot.offset + slot.count)])
            let got = Array(gpuGrads[slot.offset..<(slot.offset + slot.count)])
            let scale = max(1e-3, want.map { abs($0) }.max()!)
            assertClose(got, want, rtol: 0, atol: 1e-4 * scale, "\(what): gradient of \(slot.name)", file: file, line: line)
        }
        assertClose(try gpuState.flattened(), cpuState.flattened, rtol: 1e-4, atol: 1e-5, "\(what): final state", file: file, line: line)

        // Inference: the logits of one more chunk from the carried state.
        var none = RandomGenerator(seed: 0)
        inputs.withUnsafeBufferPointer { x in _ = cpu.forward(x.baseAddress!, T: T, B: B, state: cpuState, training: false, rng: &none) }
        try gpu.forward(inputs, T: T, B: B, state: gpuState, training: false, rng: &none)
        let want = Array(UnsafeBufferPointer(start: cpu.logits.pointer, count: T * B * V))
        assertClose(try Self.device.downloadFloats(gpu.logits.pointer, count: T * B * V), want, rtol: 1e-4, atol: 1e-4,
                    "\(what): logits", file: file, line: line)
    }

    func testEveryCellMatchesTheCPUModel() throws {
        for cell in CellKind.allCases {
            try compare(cell, embed: 6)
            try compare(cell, embed: 0)
        }
        try compare(.lstm, embed: 6, layers: 1)
    }

    /// Dropout (ordinary and variational), weight drop and embedding dropout together, checked by
    /// central differences of the device model's own loss.
    func testRegularisedGradientsMatchFiniteDifferences() throws {
        for cell in [CellKind.lstm, .gru] {
            let V = 7, H = 5, T = 4, B = 3
            let config = ModelConfig(cell: cell, layers: 2, hidden: H, embed: 4, vocabSize: V, dropout: 0.3)
            let host = randomModel(config, seed: 31, scale: 1.5).parameters
            let gpu = try DeviceModel(config: config, device: Self.device)
            for variational in [false, true] {
                gpu.regularization = .init(weightDrop: 0.3, embedDropout: 0.2, variational: variational)
                let inputs = randomIds(T * B, vocab: V, seed: 32), targets = randomIds(T * B, vocab: V, seed: 33)
                let state = try gpu.hiddenState(batch: B)
                func loss(gradients: Bool) throws -> Double {
                    try gpu.setParameters(host)
                    try state.reset()
                    var rng = RandomGenerator(seed: 34)
                    if gradients {
                        try gpu.lossAndGradients(inputs, targets: targets, T: T, B: B, state: state, rng: &rng)
                        return try gpu.lastLossSum() / Double(T * B)
                    }
                    try gpu.forward(inputs, T: T, B: B, state: state, training: true, rng: &rng)
                    return try gpu.lossOfLastForward(targets: targets) / Double(T * B)
                }
                _ = try loss(gradients: true)
                let analytic = try gpu.gradientValues()
                let check = finiteDifferences(host, analytic: analytic, step: 1e-2) { try! loss(gradients: false) }
                XCTAssertLessThan(check.relativeError, 2e-3, "\(cell) variational \(variational)")
                // The masks do act: some W_hh gradients are exactly zero under weight drop.
                let whh = gpu.layout["rnn.weight_hh_l0"]!
                XCTAssertTrue(analytic[whh.offset..<(whh.offset + whh.count)].contains(0), "\(cell): weight drop masks nothing")
            }
        }
    }
}
