import Foundation
import Hummingbird
import NIOCore

/// The web console: plain HTML, CSS and JavaScript files shipped as the target's resources (no
/// build step, nothing from the internet), read once at start and served from memory.
enum ConsoleFiles {
    static let files: [String: (type: String, body: [UInt8])] = {
        var out: [String: (String, [UInt8])] = [:]
        guard let dir = Bundle.module.url(forResource: "Console", withExtension: nil) else { return [:] }
        let types = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
                     "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon"]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else { continue }
            out[name] = (types[(name as NSString).pathExtension] ?? "application/octet-stream", Array(data))
        }
        return out
    }()
}

extension FanzhaService {
    func addConsole(to router: Router<ServiceContext>) {
        router.get("/") { _, _ in
            Response(status: .seeOther, headers: [.location: "/console/"])
        }
        router.get("/console/") { _, _ in try Self.consoleFile("index.html") }
        router.get("/console/:file") { _, context in try Self.consoleFile(try context.parameters.require("file")) }
    }

    static func consoleFile(_ name: String) throws -> Response {
        guard let f = ConsoleFiles.files[name] else { throw APIError(.notFound, "no console file \(name)") }
        return Response(status: .ok, headers: [.contentType: f.type, .cacheControl: "no-cache",
                                               .init("Content-Security-Policy")!: "default-src 'self'; connect-src 'self' ws: wss:"],
                        body: .init(byteBuffer: ByteBuffer(bytes: f.body)))
    }
}
