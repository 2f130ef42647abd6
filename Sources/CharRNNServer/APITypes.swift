import CharRNN
import Foundation

/// `POST /v1/generate`. Every field but `model` has a default; `model` may be left out when one
/// language model is served.
struct GenerateBody: Decodable {
    var model: String?
    var prompt: String?
    var length: Int?
    var temperature: Float?
    var topK: Int?
    var greedy: Bool?
    var seed: UInt64?
    var stop: String?
    var category: String?
    var stream: Bool?

    enum CodingKeys: String, CodingKey {
        case model, prompt, length, temperature, greedy, seed, stop, category, stream
        case topK = "top_k"
    }
}

struct GenerateReply: Encodable {
    var model: String
    var text: String
    var tokens: Int
    var ms: Double
    var finishReason: String
    var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case model, text, tokens, ms, seed
        case finishReason = "finish_reason"
    }
}

/// One server-sent event of a streamed generation.
struct StreamChunk: Encodable { var text: String }

struct StreamDone: Encodable {
    var tokens: Int
    var ms: Double
    var finishReason: String
    var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case tokens, ms, seed
        case finishReason = "finish_reason"
    }
}

/// `POST /v1/classify`.
struct ClassifyBody: Decodable {
    var model: String?
    var items: [String]
    var top: Int?
}

struct ClassifyReply: Encodable {
    struct Ranked: Encodable { var category: String; var probability: Float }
    struct Result: Encodable { var item: String; var categories: [Ranked] }
    var model: String
    var results: [Result]
    var ms: Double
}

struct ModelsReply: Encodable { var models: [ModelSummary] }

struct HealthReply: Encodable {
    var status: String
    var models: Int
    var generationsInFlight: Int
    /// Batched forward steps so far and the generations they advanced (rows / steps: mean batch size).
    var steps: Int
    var rows: Int

    enum CodingKeys: String, CodingKey {
        case status, models, steps, rows
        case generationsInFlight = "generations_in_flight"
    }
}

struct ErrorReply: Encodable {
    struct Detail: Encodable { var status: Int; var message: String }
    var error: Detail
}

enum JSON {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every reply type is plain data; encoding cannot fail.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
