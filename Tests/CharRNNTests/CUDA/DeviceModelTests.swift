import CharRNN
import XCTest

/// The GPU path's model on the emulated device against CharRNNModel on the CPU (ModelChecks).
/// Dropout and the AWD regularisers draw the CPU's masks (ModelChecks compares them); their gradients
/// are also checked by finite differences of the device model's own loss, the masks held fixed.
final class DeviceModelTests: XCTestCase {
    nonisolated(unsafe) static let device: EmulatedDevice = try! EmulatedDevice()

    /// ModelChecks, the same check `charrnn devices --check` runs on a GPU.
    func testEveryCellAndOptimizerMatchesTheCPU() throws {
        let outcomes = try ModelChecks.run(on: Self.device)
        XCTAssertEqual(outcomes.count, CellKind.allCases.count * 2 + 2 + 2 + 2 + OptimizerKind.allCases.count + 4 + 2)
        for o in outcomes { XCTAssertTrue(o.passed, "\(o.name): relative error \(o.relativeError)") }
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
