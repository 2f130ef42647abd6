import CharRNN
import Foundation
import XCTest

/// A model with random parameters (scaled up so the nonlinearities are not in their linear range).
func randomModel(_ config: ModelConfig, seed: UInt64, scale: Float = 2) -> CharRNNModel {
    let m = CharRNNModel(config: config)
    var rng = RandomGenerator(seed: seed)
    m.initializeParameters(rng: &rng)
    for i in 0..<m.parameterCount { m.parameters[i] *= scale }
    return m
}

func randomIds(_ n: Int, vocab: Int, seed: UInt64) -> [Int32] {
    var rng = RandomGenerator(seed: seed)
    return (0..<n).map { _ in Int32(rng.nextInt(below: vocab)) }
}

func fixturesDirectory() -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path
}

/// Path of a shared corpus, or nil (tests that need one skip when ../shared is absent).
func sharedCorpus(_ name: String) -> String? {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    let path = dir.deletingLastPathComponent().appendingPathComponent("shared/corpora/\(name)").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("charrnn-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

extension XCTestCase {
    /// A fresh folder for this test, removed when the test ends (whether it passed or not).
    func scratchDirectory() -> String {
        let dir = temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

/// Asserts that every element of `actual` is within rtol * |expected| + atol of `expected`.
func assertClose(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    var worst: Float = 0, at = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(actual[i] - expected[i]) - (rtol * abs(expected[i]) + atol)
        if excess > worst { worst = excess; at = i }
    }
    if worst > 0 {
        XCTFail("\(what): element \(at) is \(actual[at]), expected \(expected[at])", file: file, line: line)
    }
}

extension CharRNNModel {
    /// Mean loss over a batch without touching gradients.
    func meanLoss(_ inputs: [Int32], _ targets: [Int32], T: Int, B: Int, state: HiddenState, rng: inout RandomGenerator,
                  training: Bool) -> Double {
        inputs.withUnsafeBufferPointer { x in
            _ = forward(x.baseAddress!, T: T, B: B, state: state, training: training, rng: &rng)
        }
        return targets.withUnsafeBufferPointer { lossOfLastForward(targets: $0.baseAddress!) } / Double(T * B)
    }

    func slot(_ name: String) -> [Float] {
        let s = layout[name]!
        return Array(UnsafeBufferPointer(start: parameters.pointer + s.offset, count: s.count))
    }

    func gradient(_ name: String) -> [Float] {
        let s = layout[name]!
        return Array(UnsafeBufferPointer(start: gradients.pointer + s.offset, count: s.count))
    }
}

/// Central differences of `loss` for every parameter, compared with `analytic`.
struct FiniteDifferences {
    /// Numeric gradient of each parameter.
    var numeric: [Double]
    /// sqrt(sum (a - n)^2 / sum (a + n)^2) over all parameters.
    var relativeError: Double
    /// sum (a + n)^2: near zero when the loss does not depend on the parameters (the check would prove nothing).
    var scale: Double
}

func finiteDifferences(_ parameters: FloatBuffer, analytic: [Float], step: Float = 1e-2,
                       loss: () -> Double) -> FiniteDifferences {
    var numeric = [Double](repeating: 0, count: analytic.count)
    var diff2 = 0.0, sum2 = 0.0
    for i in 0..<analytic.count {
        let saved = parameters[i]
        parameters[i] = saved + step
        let up = loss()
        parameters[i] = saved - step
        let down = loss()
        parameters[i] = saved
        let n = (up - down) / Double(2 * step), a = Double(analytic[i])
        numeric[i] = n
        diff2 += (a - n) * (a - n)
        sum2 += (a + n) * (a + n)
    }
    return FiniteDifferences(numeric: numeric, relativeError: (diff2 / max(sum2, 1e-30)).squareRoot(), scale: sum2)
}

/// Two categories of made-up names in `dir` (Vowels.txt, Stops.txt), 200 each, each with its own letters.
func writeVowelsAndStops(_ dir: String) throws {
    var rng = RandomGenerator(seed: 8)
    func word(_ letters: String) -> String {
        String((0..<(3 + rng.nextInt(below: 4))).map { _ in Array(letters)[rng.nextInt(below: letters.count)] })
    }
    try (0..<200).map { _ in word("aeiou") }.joined(separator: "\n").write(toFile: dir + "/Vowels.txt", atomically: true, encoding: .utf8)
    try (0..<200).map { _ in word("kptsz") }.joined(separator: "\n").write(toFile: dir + "/Stops.txt", atomically: true, encoding: .utf8)
}

/// A small text with structure a model can learn quickly.
func writeTrainingText(_ dir: String) throws -> String {
    var text = ""
    var rng = RandomGenerator(seed: 7)
    let words = ["the cat", "a dog", "my bird", "one fish", "two frogs"]
    for _ in 0..<400 { text += words[rng.nextInt(below: words.count)] + (rng.nextInt(below: 4) == 0 ? ".\n" : " ") }
    let path = dir + "/text.txt"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func smallTrainingOptions(_ text: String, _ out: String) -> TrainingOptions {
    var o = TrainingOptions(textPath: text, outputDirectory: out)
    o.hidden = 32; o.layers = 2; o.embed = 16; o.seqLength = 16; o.batchSize = 8
    o.learningRate = 1e-2; o.evalEvery = 20; o.logEvery = 5; o.threads = 1; o.sampleLength = 20
    return o
}
