import CharRNN
import CharRNNServer
import Foundation
import Hummingbird
import XCTest

/// Small checkpoints written to a temporary folder: a language model over a few letters and a
/// classifier over three categories. Their weights are random: the tests check the plumbing and
/// compare with the library's own results, not the quality of the text.
struct ServerFixture {
    let directory: String
    let generatorPath: String
    let classifierPath: String
    static let alphabet = Array("\nabcdefghij .,".unicodeScalars)

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("charrnn-server-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let vocab = Vocabulary(scalars: Self.alphabet)
        let config = ModelConfig(cell: .lstm, layers: 2, hidden: 24, embed: 8, vocabSize: vocab.count)
        let model = CharRNNModel(config: config)
        var rng = RandomGenerator(seed: 11)
        model.initializeParameters(rng: &rng)
        for i in 0..<model.parameterCount { model.parameters[i] *= 3 }  // livelier than the initial near-uniform output
        let summary = TrainingSummary(step: 10, epoch: 1, trainLoss: 2.5, validationLoss: 2.6, corpus: "test")
        generatorPath = directory + "/letters.safetensors"
        try Checkpoint(model: model, vocabulary: vocab, startCharacter: "\n", training: summary).save(to: generatorPath)

        let cvocab = Vocabulary(scalars: Array("abcdefghijklmnopqrstuvwxyz".unicodeScalars))
        let cconfig = ClassifierConfig(cell: .gru, layers: 1, hidden: 16, embed: 8, bidirectional: true,
                                       vocabSize: cvocab.count, categories: 3)
        let classifier = ClassifierModel(config: cconfig)
        var crng = RandomGenerator(seed: 5)
        classifier.initializeParameters(rng: &crng)
        let info = ClassifierInfo(config: cconfig, vocabulary: cvocab.scalars.map { String($0) },
                                  categories: ["North", "South", "West"], normalization: TextNormalization(lowercase: true))
        classifierPath = directory + "/places.safetensors"
        try ClassifierCheckpoint(model: classifier, vocabulary: cvocab, info: info).save(to: classifierPath)
    }

    func engine(maxBatch: Int = 64) throws -> InferenceEngine {
        let engine = try InferenceEngine(checkpoints: [("letters", generatorPath), ("places", classifierPath)], maxBatch: maxBatch)
        engine.start()
        return engine
    }

    /// What the library's Sampler gives for the same request.
    func expectedText(prompt: String, length: Int, options: SamplingOptions, seed: UInt64) throws -> String {
        let sampler = Sampler(checkpoint: try Checkpoint.load(generatorPath))
        return try sampler.generate(prime: prompt, length: length, options: options, seed: seed)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

func jsonObject(_ buffer: ByteBuffer) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
    return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(buffer.text)")
}

func body(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

/// Parses a server-sent event stream into (event name, JSON data) pairs.
func serverSentEvents(_ text: String) throws -> [(name: String, data: [String: Any])] {
    try text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
        var name = "message", data = ""
        for line in block.split(separator: "\n") {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data += line.dropFirst(6) }
        }
        let object = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
        return (name, try XCTUnwrap(object))
    }
}

/// Opens a TCP connection to loopback, sends `request`, reads until `enough` bytes came back, then
/// closes the socket without reading the rest: a client that goes away mid-stream.
func sendAndHangUp(port: Int, request: String, enough: Int) async throws -> String {
    try await offTheCooperativePool {
        let connection = try RawConnection(port: port)
        connection.send(request)
        return connection.receive(atLeast: enough, timeout: 30).text
    }
}

/// Opens a connection, sends `request` (optionally shutting down the sending side), then reads until
/// the server closes the connection or `timeout` seconds pass.
func exchange(port: Int, _ request: String, halfClose: Bool, timeout: Double) async throws -> RawConnection.Reply {
    try await offTheCooperativePool {
        try RawConnection(port: port).exchange(request, halfClose: halfClose, timeout: timeout)
    }
}

/// Runs blocking socket work on a thread of its own. The server's handlers run on Swift's cooperative
/// pool, which has one thread per core: a test that blocked one of them waiting for the server could
/// starve the server on a machine with few cores.
func offTheCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// A raw TCP connection to loopback, for requests no HTTP client would send (and, through
/// `LiveClient`, for those one would).
final class RawConnection {
    private var fd: Int32

    struct Reply {
        let bytes: [UInt8]
        let closedByServer: Bool
        let seconds: Double
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }

    /// Sends all of `text`, or as much as the server takes before it closes.
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may close on a bad request before reading it all
            sent += n
        }
    }

    /// Reads until `atLeast` bytes came, the server closes the connection, or `timeout` seconds pass.
    func receive(atLeast: Int = .max, timeout: Double) -> Reply {
        let start = Date()
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var closed = false
        while received.count < atLeast && Date().timeIntervalSince(start) < timeout {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { closed = true; break }
            received += chunk[0..<n]
        }
        return Reply(bytes: received, closedByServer: closed, seconds: Date().timeIntervalSince(start))
    }

    /// Sends `request` (optionally shutting down the sending side), then reads until the server closes
    /// the connection or `timeout` seconds pass.
    func exchange(_ request: String, halfClose: Bool, timeout: Double) -> Reply {
        send(request)
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        return receive(timeout: timeout)
    }
}
