import CharRNN
import Foundation

/// `POST /v1/completions` in OpenAI's schema, where a token is a character. Fields that do not apply
/// to a character model are accepted where they ask for nothing (`user`, `best_of` equal to `n`, an
/// empty `suffix` or `logit_bias`) and refused by name otherwise; unknown fields are refused.
struct CompletionRequest: Decodable {
    var model: String?
    var prompts: [String]
    var maxTokens: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var n: Int?
    var stop: [String]
    var seed: UInt64?
    var stream: Bool
    var includeUsage: Bool
    var echo: Bool
    var logprobs: Int?
    var category: String?
    var presencePenalty: Double?
    var frequencyPenalty: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, prompt, temperature, n, stop, seed, stream, echo, logprobs, user, suffix, category
        case maxTokens = "max_tokens", topP = "top_p", topK = "top_k", streamOptions = "stream_options"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty", bestOf = "best_of"
        case logitBias = "logit_bias"
    }

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        func refuse(_ key: CodingKeys, _ message: String) -> APIError {
            var e = APIError(.badRequest, message)
            e.param = key.stringValue
            return e
        }
        model = try c.decodeIfPresent(String.self, forKey: .model)
        if try !c.contains(.prompt) || c.decodeNil(forKey: .prompt) {
            prompts = [""]
        } else if let one = try? c.decode(String.self, forKey: .prompt) {
            prompts = [one]
        } else if let many = try? c.decode([String].self, forKey: .prompt) {
            guard !many.isEmpty else { throw refuse(.prompt, "prompt must not be an empty array") }
            prompts = many
        } else {
            throw refuse(.prompt, "prompt must be a string or an array of strings (token ids do not apply: a token here is a character)")
        }
        maxTokens = try c.wholeNumber(.maxTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        topK = try c.wholeNumber(.topK)
        n = try c.wholeNumber(.n)
        if try !c.contains(.stop) || c.decodeNil(forKey: .stop) {
            stop = []
        } else if let one = try? c.decode(String.self, forKey: .stop) {
            stop = [one]
        } else if let many = try? c.decode([String].self, forKey: .stop) {
            stop = many
        } else {
            throw refuse(.stop, "stop must be a string or an array of up to 4 strings")
        }
        guard stop.count <= 4 else { throw refuse(.stop, "stop takes at most 4 strings (got \(stop.count))") }
        guard !stop.contains("") else { throw refuse(.stop, "a stop string must not be empty") }
        seed = try c.wholeNumber(.seed)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo) ?? false
        logprobs = try c.wholeNumber(.logprobs)
        category = try c.decodeIfPresent(String.self, forKey: .category)
        _ = try c.decodeIfPresent(String.self, forKey: .user)
        if let suffix = try c.decodeIfPresent(String.self, forKey: .suffix), !suffix.isEmpty {
            throw refuse(.suffix, "suffix is not supported: a character model writes left to right only")
        }
        if let bias = try c.decodeIfPresent([String: Double].self, forKey: .logitBias), !bias.isEmpty {
            throw refuse(.logitBias, "logit_bias is not supported")
        }
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        if let bestOf: Int = try c.wholeNumber(.bestOf), bestOf != (n ?? 1) {
            throw refuse(.bestOf, "best_of must equal n (each choice is one sample; charrnn does not rank samples)")
        }
    }

    /// The sampling options, checked: temperature 0 is greedy.
    func samplingOptions() throws -> SamplingOptions {
        func refuse(_ param: String, _ message: String) -> APIError {
            var e = APIError(.badRequest, message)
            e.param = param
            return e
        }
        let t = temperature ?? 1
        guard t.isFinite, t >= 0 else { throw refuse("temperature", "temperature must be 0 (greedy) or more (got \(t))") }
        var options = SamplingOptions(temperature: t == 0 ? 1 : Float(t), greedy: t == 0)
        if let p = topP {
            guard p > 0, p <= 1 else { throw refuse("top_p", "top_p must be above 0 and at most 1 (got \(p))") }
            options.topP = p < 1 ? Float(p) : nil
        }
        for (param, value) in [("presence_penalty", presencePenalty), ("frequency_penalty", frequencyPenalty)] {
            guard let value else { continue }
            guard value >= -2, value <= 2 else { throw refuse(param, "\(param) must be between -2 and 2 (got \(value))") }
        }
        options.presencePenalty = Float(presencePenalty ?? 0)
        options.frequencyPenalty = Float(frequencyPenalty ?? 0)
        if let k = topK, k != -1 {
            guard k >= 1 else { throw refuse("top_k", "top_k must be at least 1, or -1 for all (got \(k))") }
            options.topK = k
        }
        return options
    }
}
