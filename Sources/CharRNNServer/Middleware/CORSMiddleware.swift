import Hummingbird

/// `--cors-origin ORIGIN` (repeatable, or *): browser pages served from those origins may call the
/// API. A preflight (OPTIONS with Access-Control-Request-Method) from such an origin is answered
/// 204; every reply to it carries Access-Control-Allow-Origin. Other origins get no CORS headers, so
/// their pages' calls fail in the browser, as with no CORS at all. (Hummingbird's CORSMiddleware takes
/// one origin or all; this takes a list.)
struct OriginsMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    var any: Bool { origins.contains("*") }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = any || origins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else {
                return JSONErrorMiddleware<Context>.reply(.forbidden, "the origin \(origin) may not call this server (see --cors-origin)")
            }
            var headers: HTTPFields = [.accessControlAllowMethods: "GET, POST, OPTIONS", .accessControlMaxAge: "600"]
            headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? "Authorization, Content-Type"
            var response = Response(status: .noContent, headers: headers)
            decorate(&response, origin: origin)
            return response
        }
        var response = try await next(request, context)
        if allowed { decorate(&response, origin: origin) }
        return response
    }

    private func decorate(_ response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = any ? "*" : origin
        if !any { response.headers[.vary] = "Origin" }
    }
}
