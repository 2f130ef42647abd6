import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// A request the server refuses, with the status and the sentence the client sees.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String
    /// The connection is closed after the reply (a request whose body was not read to its end).
    var closing = false
    init(_ status: HTTPResponse.Status, param: String? = nil, _ message: String, closing: Bool = false) {
        self.status = status; self.message = message; self.closing = closing; self.param = param
    }

    /// Which member of a request is at fault (OpenAI's `param`), and a code a client can act on.
    var param: String? = nil
    var code: String? = nil

    /// `{"error": {"message", "status", "type", "param", "code"}}`: charrnn's message and status, and
    /// OpenAI's type, param and code, so charrnn's clients and OpenAI's read the same reply.
    static func body(_ status: HTTPResponse.Status, _ message: String, param: String? = nil, code: String? = nil) -> ByteBuffer {
        var text = "{\"error\":{\"message\":" + JSON.string(message) + ",\"status\":\(status.code)"
        text += ",\"type\":" + JSON.string(errorType(status))
        text += ",\"param\":" + (param.map(JSON.string) ?? "null")
        text += ",\"code\":" + ((code ?? defaultCode(status)).map(JSON.string) ?? "null") + "}}"
        return ByteBuffer(string: text)
    }

    /// OpenAI's error types by status.
    static func errorType(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 408, 413, 429, 503: status.code == 429 ? "rate_limit_error" : "server_error"
        case 500...: "server_error"
        default: "invalid_request_error"
        }
    }

    static func defaultCode(_ status: HTTPResponse.Status) -> String? {
        switch status.code {
        case 401: "invalid_api_key"
        case 503: "overloaded"
        default: nil
        }
    }
}

/// Turns every error into a JSON body `{"error": {"status": N, "message": "..."}}`, so a client
/// (and the web page) always gets something it can show, whatever went wrong.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            var response = Self.reply(error.status, error.message, param: error.param, code: error.code)
            if error.closing { response.headers[.connection] = "close" }
            if error.status == .serviceUnavailable || error.status == .tooManyRequests { response.headers[.retryAfter] = "1" }
            return response
        } catch let error as HTTPError {
            if error.status == .notFound, let allowed = endpointMethods[request.uri.path] {
                var response = Self.reply(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); use \(allowed)")
                response.headers[.allow] = allowed
                return response
            }
            let message: String
            switch error.status {
            case .notFound: message = "no such endpoint: \(request.method) \(request.uri.path)"
            case .contentTooLarge: message = "the request body is larger than the server accepts"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(request.uri.path)"
            default: message = error.body ?? error.status.reasonPhrase
            }
            return Self.reply(error.status, message)
        } catch is NIOTooManyBytesError {
            return Self.reply(.contentTooLarge, "the request body is larger than the server accepts")
        } catch is HTTPParserError {
            // Also a body shorter than its Content-Length when the client hangs up.
            return Self.reply(.badRequest, "the request body is malformed or ended before its Content-Length")
        } catch let error as DecodingError {
            return Self.reply(.badRequest, "malformed JSON: \(Self.describe(error))")
        } catch {
            context.logger.error("request failed: \(error)")
            return Self.reply(.internalServerError, "internal error")
        }
    }

    static func reply(_ status: HTTPResponse.Status, _ message: String, param: String? = nil, code: String? = nil) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: APIError.body(status, message, param: param, code: code)))
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.isEmpty ? "" : " at '" + c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") + "'"
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing field '\(key.stringValue)'\(path(c))"
        case .typeMismatch(let type, let c): return "expected \(type)\(path(c))"
        case .valueNotFound(let type, let c): return "expected \(type)\(path(c)), found null"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "the body is not valid JSON" : "invalid value\(path(c))"
        @unknown default: return "the body could not be read"
        }
    }
}

/// The method each endpoint answers, for a 405 that names it.
let endpointMethods = ["/": "GET, HEAD", "/openapi.json": "GET, HEAD", "/healthz": "GET, HEAD", "/v1/models": "GET, HEAD",
                       "/metrics": "GET, HEAD", "/v1/completions": "POST", "/v1/chat/completions": "POST",
                       "/v1/generate": "POST", "/v1/classify": "POST"]
