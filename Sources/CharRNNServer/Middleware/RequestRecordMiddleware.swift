import Dispatch
import Hummingbird
import Logging

/// One line per request at info level (method, path, status, milliseconds, characters generated;
/// never a prompt or a generated text), and the request metrics (ServerMetrics), both when the reply
/// has been written, so a stream counts its whole length.
struct RequestRecordMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        var response = try await next(request, context)
        let status = response.status.code
        let route = context.endpointPath ?? "unmatched"
        let body = response.body
        let record = { @Sendable [logger, method = request.method, path = request.uri.path, tally = context.tally] in
            let nanoseconds = DispatchTime.now().uptimeNanoseconds - start
            ServerMetrics.recordRequest(route: route, method: method.rawValue, status: status, nanoseconds: nanoseconds)
            logger.info("\(method) \(path) \(status) \(Double(nanoseconds / 10_000) / 100) ms \(tally.characters) characters")
        }
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { record() }
            try await body.write(writer)
        }
        return response
    }
}
