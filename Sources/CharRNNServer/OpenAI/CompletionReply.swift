import CharRNN
import Foundation

/// OpenAI's `text_completion` object: the whole reply, or one chunk of a stream.
struct Completion: Encodable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [Choice]
    /// Written as null on a stream's chunks (OpenAI's include_usage), left out where not asked.
    var usage: Usage?
    var usageIsNull = false

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        if let usage { try c.encode(usage, forKey: .usage) } else if usageIsNull { try c.encodeNil(forKey: .usage) }
    }
}

struct Choice: Encodable {
    var text: String
    var index: Int
    var logprobs: Logprobs?
    /// nil (null) on a stream's chunks until the last one of the choice.
    var finishReason: String?

    enum CodingKeys: String, CodingKey { case text, index, logprobs, finishReason = "finish_reason" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encode(index, forKey: .index)
        if let logprobs { try c.encode(logprobs, forKey: .logprobs) } else { try c.encodeNil(forKey: .logprobs) }
        if let finishReason { try c.encode(finishReason, forKey: .finishReason) } else { try c.encodeNil(forKey: .finishReason) }
    }
}

/// OpenAI's legacy completions logprobs: one entry per character.
struct Logprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Float?] = []
    var topLogprobs: [[String: Float]?] = []
    var textOffset: [Int] = []

    enum CodingKeys: String, CodingKey {
        case tokens, tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokens, forKey: .tokens)
        var values = c.nestedUnkeyedContainer(forKey: .tokenLogprobs)
        for v in tokenLogprobs { if let v { try values.encode(v) } else { try values.encodeNil() } }
        var tops = c.nestedUnkeyedContainer(forKey: .topLogprobs)
        for t in topLogprobs { if let t { try tops.encode(t) } else { try tops.encodeNil() } }
        try c.encode(textOffset, forKey: .textOffset)
    }

    mutating func extend(with other: Logprobs) {
        tokens += other.tokens
        tokenLogprobs += other.tokenLogprobs
        topLogprobs += other.topLogprobs
        textOffset += other.textOffset
    }

    /// Adds `scores` whose characters start at `offset` of the choice's text.
    mutating func append(_ scores: [CharacterScore], from offset: Int, alternatives: Int) {
        var at = offset
        for s in scores {
            let token = String(s.character)
            tokens.append(token)
            tokenLogprobs.append(s.logprob)
            if s.logprob == nil {
                topLogprobs.append(nil)
            } else {
                var top: [String: Float] = [:]
                for a in s.alternatives.prefix(alternatives) { top[String(a.character)] = a.logprob }
                topLogprobs.append(top)
            }
            textOffset.append(at)
            at += 1  // offsets count characters (code points), as Python indexes the text
        }
    }
}

struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}
