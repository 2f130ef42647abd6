import CharRNN
import Foundation

/// `POST /v1/generate`. Every field but `model` has a default; `model` may be left out when one
/// language model is served. Unknown fields and numbers out of their type's range are refused by name.
struct GenerateBody: Decodable {
    var model: String?
    var prompt: String?
    var length: Int?
    var temperature: Double?
    var topK: Int?
    var topP: Double?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var greedy: Bool?
    var beams: Int?
    var seed: UInt64?
    var stop: String?
    var category: String?
    var stream: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, prompt, length, temperature, greedy, beams, seed, stop, category, stream
        case topK = "top_k", topP = "top_p", presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        prompt = try c.decodeIfPresent(String.self, forKey: .prompt)
        length = try c.wholeNumber(.length)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topK = try c.wholeNumber(.topK)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        greedy = try c.decodeIfPresent(Bool.self, forKey: .greedy)
        beams = try c.wholeNumber(.beams)
        seed = try c.wholeNumber(.seed)
        stop = try c.decodeIfPresent(String.self, forKey: .stop)
        category = try c.decodeIfPresent(String.self, forKey: .category)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
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

    enum CodingKeys: String, CodingKey, CaseIterable { case model, items, top }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        items = try c.decode([String].self, forKey: .items)
        top = try c.wholeNumber(.top)
    }
}

/// Any key, to find the ones a body has that its type does not know.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// A keyed container that refuses fields the type does not define (a misspelt `temprature` would
    /// otherwise be ignored silently).
    func strictContainer<Key: CodingKey & CaseIterable>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let known = Key.allCases.map(\.stringValue)
        let all = try container(keyedBy: AnyCodingKey.self)
        if let unknown = all.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw APIError(.badRequest, "unknown field '\(unknown)'; the fields are \(known.joined(separator: ", "))")
        }
        return try container(keyedBy: Key.self)
    }
}

extension KeyedDecodingContainer {
    /// A whole number of type T; a number outside T's range or with a fraction is named as such.
    func wholeNumber<T: FixedWidthInteger & Decodable>(_ key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(T.self, forKey: key) { return value }
        if let number = try? decode(Double.self, forKey: key) {
            let shown = number == number.rounded() && abs(number) < 1e15 ? fmt(number, 0) : "\(number)"
            throw APIError(.badRequest, "\(key.stringValue) must be a whole number from \(T.min) to \(T.max) (got \(shown))")
        }
        return try decode(T.self, forKey: key)  // not a number: the decoder says what it found
    }
}

struct ClassifyReply: Encodable {
    struct Ranked: Encodable { var category: String; var probability: Float }
    struct Result: Encodable { var item: String; var categories: [Ranked] }
    var model: String
    var results: [Result]
    var ms: Double
}

/// `GET /v1/models`: OpenAI's list (`object`, `data` with `id`, `object`, `created`, `owned_by`, and
/// charrnn's own members beside them) and charrnn's `models`, as before.
struct ModelsReply: Encodable {
    struct Entry: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "charrnn"
        var charrnn: ModelSummary

        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }

        func encode(to encoder: Encoder) throws {
            try charrnn.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(object, forKey: .object)
            try c.encode(created, forKey: .created)
            try c.encode(ownedBy, forKey: .ownedBy)
        }
    }
    var object = "list"
    var data: [Entry]
    var models: [ModelSummary]

    init(models: [ModelSummary], created: Int) {
        self.models = models
        data = models.map { Entry(id: $0.name, created: created, charrnn: $0) }
    }
}

struct HealthReply: Encodable {
    var status: String
    var version = CharRNNVersion.current
    var models: Int
    var generationsInFlight: Int
    /// Batched forward steps so far and the generations they advanced (rows / steps: mean batch size).
    var steps: Int
    var rows: Int

    enum CodingKeys: String, CodingKey {
        case status, version, models, steps, rows
        case generationsInFlight = "generations_in_flight"
    }
}


enum JSON {
    /// `s` as a JSON string literal.
    static func string(_ s: String) -> String { String(decoding: encode([s]).dropFirst().dropLast(), as: UTF8.self) }

    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every reply type is plain data; encoding cannot fail.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
