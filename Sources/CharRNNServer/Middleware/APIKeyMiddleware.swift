import Foundation
import Hummingbird

/// `--api-key`: every request to /v1/ and /metrics carries `Authorization: Bearer KEY`, else 401 in
/// OpenAI's error shape. The page, /openapi.json and /healthz stay open (a load balancer's probe
/// carries no key). The key is compared in constant time.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]

    init(key: String) { self.key = Array(key.utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/v1/") || path == "/metrics", request.method != .options else {
            return try await next(request, context)
        }
        let given = request.headers[.authorization].flatMap { header -> [UInt8]? in
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        }
        guard let given, Self.equal(given, key) else {
            var response = JSONErrorMiddleware<Context>.reply(
                .unauthorized, given == nil ? "this server needs an API key: send Authorization: Bearer KEY"
                    : "the API key is not this server's")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    /// Whether a and b are equal, in a time that depends on their lengths only.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
