import Foundation

/// The OpenAPI 3.0 description served at `/openapi.json`, with this server's limits filled in.
enum OpenAPIDocument {
    static func json(configuration c: ServerConfiguration) -> String {
        let error: [String: Any] = ["description": "The request was refused; the body says why.",
                                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
        func jsonBody(_ ref: String) -> [String: Any] {
            ["required": true, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(ref)"]]]]
        }
        func ok(_ ref: String, _ description: String) -> [String: Any] {
            ["description": description, "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(ref)"]]]]
        }
        let doc: [String: Any] = [
            "openapi": "3.0.3",
            "info": [
                "title": "charrnn",
                "version": "1",
                "description": "Generate text with character-level language models and classify short strings.",
            ],
            "paths": [
                "/healthz": ["get": [
                    "summary": "Liveness check",
                    "operationId": "health",
                    "responses": ["200": ok("Health", "The server is up.")],
                ]],
                "/v1/models": ["get": [
                    "summary": "The models this server serves",
                    "operationId": "listModels",
                    "responses": ["200": ok("Models", "One entry per model.")],
                ]],
                "/v1/generate": ["post": [
                    "summary": "Generate text from a prompt",
                    "description": "With \"stream\": true the reply is text/event-stream: one `data: {\"text\": ...}` event with the characters produced since the last (at most 50 a second), then `event: done` with the totals.",
                    "operationId": "generate",
                    "requestBody": jsonBody("GenerateRequest"),
                    "responses": [
                        "200": [
                            "description": "The generated text (without the prompt), or a stream of events.",
                            "content": [
                                "application/json": ["schema": ["$ref": "#/components/schemas/GenerateReply"]],
                                // Events, not one document: `data: {"text": ...}`, then `event: done`.
                                "text/event-stream": [String: Any](),
                            ],
                        ],
                        "400": error, "404": error, "413": error, "503": error,
                    ],
                ]],
                "/v1/completions": ["post": [
                    "summary": "OpenAI's completions API, where a token is a character",
                    "description": "With \"stream\": true the reply is text/event-stream in OpenAI's format: unnamed `data: {...}` chunks of the text_completion object, then `data: [DONE]`.",
                    "operationId": "completions",
                    "requestBody": jsonBody("CompletionRequest"),
                    "responses": [
                        "200": ["description": "The choices, or a stream of chunks.",
                                "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Completion"]],
                                            "text/event-stream": [String: Any]()]],
                        "400": error, "401": error, "404": error, "408": error, "413": error, "503": error,
                    ],
                ]],
                "/metrics": ["get": [
                    "summary": "Prometheus metrics (text exposition format)",
                    "operationId": "metrics",
                    "responses": ["200": ["description": "Requests, latency, characters, batches, queue, connections.",
                                          "content": ["text/plain": ["schema": ["type": "string"]]]],
                                  "401": error],
                ]],
                "/v1/classify": ["post": [
                    "summary": "Top categories for each item",
                    "operationId": "classify",
                    "requestBody": jsonBody("ClassifyRequest"),
                    "responses": ["200": ok("ClassifyReply", "Categories with probabilities, most likely first."),
                                  "400": error, "404": error, "413": error, "500": error, "503": error],
                ]],
            ],
            "components": ["schemas": [
                "Error": object(["error": object(["status": ["type": "integer"], "message": ["type": "string"],
                                                  "type": ["type": "string", "description": "OpenAI's error type."],
                                                  "param": ["type": "string", "nullable": true], "code": ["type": "string", "nullable": true]],
                                                 required: ["status", "message", "type"])], required: ["error"]),
                "CompletionRequest": object([
                    "model": ["type": "string", "description": "May be left out when the server has one language model."],
                    "prompt": ["oneOf": [["type": "string"], ["type": "array", "minItems": 1, "items": ["type": "string"]]], "default": ""],
                    "max_tokens": ["type": "integer", "minimum": 0, "maximum": c.maxLength, "default": 16, "description": "Characters to generate."],
                    "temperature": ["type": "number", "minimum": 0, "default": 1, "description": "0 is greedy."],
                    "top_p": ["type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1, "default": 1],
                    "top_k": ["type": "integer", "minimum": -1, "description": "charrnn's extension; -1 keeps all."],
                    "n": ["type": "integer", "minimum": 1, "maximum": CompletionRoutes.maxChoices, "default": 1],
                    "stop": ["oneOf": [["type": "string", "minLength": 1],
                                       ["type": "array", "maxItems": 4, "items": ["type": "string", "minLength": 1]]],
                             "description": "Generation ends at any of these strings, which are not part of the text."],
                    "seed": ["type": "integer", "minimum": 0, "maximum": UInt64.max, "description": "Choice k is drawn with seed + k."],
                    "stream": ["type": "boolean", "default": false],
                    "stream_options": object(["include_usage": ["type": "boolean"]], required: []),
                    "echo": ["type": "boolean", "default": false],
                    "logprobs": ["type": "integer", "minimum": 0, "maximum": CompletionRoutes.maxLogprobs],
                    "presence_penalty": ["type": "number", "minimum": -2, "maximum": 2, "default": 0],
                    "frequency_penalty": ["type": "number", "minimum": -2, "maximum": 2, "default": 0],
                    "best_of": ["type": "integer", "description": "Must equal n."],
                    "user": ["type": "string"],
                    "suffix": ["type": "string", "maxLength": 0],
                    "logit_bias": ["type": "object", "maxProperties": 0],
                    "category": ["type": "string", "description": "charrnn's extension: for a model trained on categories."],
                ], required: [], closed: true),
                "Completion": object([
                    "id": ["type": "string"], "object": ["type": "string", "enum": ["text_completion"]], "created": ["type": "integer"],
                    "model": ["type": "string"],
                    "choices": ["type": "array", "items": object([
                        "text": ["type": "string"], "index": ["type": "integer"],
                        "logprobs": ["type": "object", "nullable": true],
                        "finish_reason": ["type": "string", "nullable": true, "enum": ["length", "stop", "cancelled", "error"]],
                    ], required: ["text", "index", "logprobs", "finish_reason"])],
                    "usage": object(["prompt_tokens": ["type": "integer"], "completion_tokens": ["type": "integer"],
                                     "total_tokens": ["type": "integer"]], required: ["prompt_tokens", "completion_tokens", "total_tokens"]),
                ], required: ["id", "object", "created", "model", "choices"]),
                "Health": object([
                    "status": ["type": "string"], "version": ["type": "string", "description": "charrnn's version."], "models": ["type": "integer"],
                    "generations_in_flight": ["type": "integer"],
                    "steps": ["type": "integer", "description": "Batched forward steps run so far."],
                    "rows": ["type": "integer", "description": "Generations those steps advanced; rows/steps is the mean batch."],
                ], required: ["status", "models", "generations_in_flight", "steps", "rows"]),
                "Models": object(["models": ["type": "array", "items": ["$ref": "#/components/schemas/Model"]],
                                  "object": ["type": "string", "enum": ["list"]],
                                  "data": ["type": "array", "description": "OpenAI's model list: each Model with id, object, created and owned_by.",
                                           "items": ["$ref": "#/components/schemas/Model"]]],
                                 required: ["models", "object", "data"]),
                "Model": object([
                    "name": ["type": "string"],
                    "kind": ["type": "string", "enum": ["generator", "classifier"]],
                    "cell": ["type": "string", "enum": ["lstm", "gru", "rnn_tanh", "rnn_relu"]],
                    "layers": ["type": "integer"],
                    "hidden": ["type": "integer"],
                    "vocabulary_size": ["type": "integer"],
                    "training_loss": ["type": "number", "description": "Smoothed training loss (nats/char) when saved."],
                    "validation_loss": ["type": "number"],
                    "training_steps": ["type": "integer"],
                    "categories": ["type": "array", "items": ["type": "string"]],
                    "bidirectional": ["type": "boolean"],
                    "members": ["type": "integer", "description": "A classifier's members: more than one for an ensemble (a training folder of several), whose probabilities are averaged."],
                    "names_mode": ["type": "boolean"],
                    "start_character": ["type": "string", "description": "What an empty prompt starts from (the training text's first character; a newline for a names model). Like a prompt, it is not part of the generated text."],
                ], required: ["name", "kind", "cell", "layers", "hidden", "vocabulary_size"]),
                "GenerateRequest": object([
                    "model": ["type": "string", "description": "May be left out when the server has one language model."],
                    "prompt": ["type": "string", "default": "", "description": "Text to continue; every character must be in the model's vocabulary."],
                    "length": ["type": "integer", "minimum": 0, "maximum": c.maxLength, "default": 200],
                    "temperature": ["type": "number", "exclusiveMinimum": true, "minimum": 0, "default": 1],
                    "top_k": ["type": "integer", "minimum": 1],
                    "top_p": ["type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1, "default": 1,
                              "description": "Nucleus sampling: only the most likely characters whose probabilities add up to top_p (after temperature and top_k)."],
                    "presence_penalty": ["type": "number", "minimum": -2, "maximum": 2, "default": 0,
                                         "description": "Lowers the logit of every character already generated (OpenAI's definition)."],
                    "frequency_penalty": ["type": "number", "minimum": -2, "maximum": 2, "default": 0,
                                          "description": "Lowers each character's logit by this much per time it was generated."],
                    "greedy": ["type": "boolean", "default": false],
                    "beams": ["type": "integer", "minimum": 1, "maximum": Routes.maxBeams,
                              "description": "Beam search: the most likely continuation of length characters (or up to stop), returned whole; no sampling field or stream goes with it."],
                    "seed": ["type": "integer", "minimum": 0, "maximum": UInt64.max, "description": "The same seed and options give the same text."],
                    "stop": ["type": "string", "minLength": 1, "maxLength": 1, "description": "Generation ends at this character (not included)."],
                    "category": ["type": "string", "description": "For a model trained on categories."],
                    "stream": ["type": "boolean", "default": false],
                ], required: [], closed: true),
                "GenerateReply": object([
                    "model": ["type": "string"],
                    "text": ["type": "string"],
                    "tokens": ["type": "integer"],
                    "ms": ["type": "number"],
                    "seed": ["type": "integer"],
                    "finish_reason": ["type": "string", "enum": ["length", "stop", "cancelled", "error"]],
                ], required: ["model", "text", "tokens", "ms", "seed", "finish_reason"]),
                "ClassifyRequest": object([
                    "model": ["type": "string", "description": "May be left out when the server has one classifier."],
                    "items": ["type": "array", "minItems": 1, "maxItems": c.maxItems, "items": ["type": "string", "minLength": 1]],
                    "top": ["type": "integer", "minimum": 1, "default": 3],
                ], required: ["items"], closed: true),
                "ClassifyReply": object([
                    "model": ["type": "string"],
                    "ms": ["type": "number"],
                    "results": ["type": "array", "items": object([
                        "item": ["type": "string"],
                        "categories": ["type": "array", "items": object([
                            "category": ["type": "string"], "probability": ["type": "number"],
                        ], required: ["category", "probability"])],
                    ], required: ["item", "categories"])],
                ], required: ["model", "results", "ms"]),
            ]],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `closed`: a request body, whose unknown fields the server refuses.
    private static func object(_ properties: [String: Any], required: [String], closed: Bool = false) -> [String: Any] {
        var o: [String: Any] = ["type": "object", "properties": properties]
        if !required.isEmpty { o["required"] = required }
        if closed { o["additionalProperties"] = false }
        return o
    }
}
