import Fanzha
@testable import FanzhaServer
import FanzhaTestSupport
import Foundation
import ServiceLifecycle
import Logging
#if canImport(Glibc)
import Glibc
#endif

enum Package {
    static let root = BuiltProducts.packageRoot
    static var rules: String { root.appendingPathComponent("rules").path }
    static func file(_ path: String) -> String { root.appendingPathComponent(path).path }

    static let fanzha: String? = BuiltProducts.fanzha
}

/// An HTTP/1.1 exchange over a plain socket: the tests see exactly what goes over the wire, and
/// can also send half a request and wait (the slow-client test).
struct HTTPResult {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
}

final class Connection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        var tv = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads until the peer closes (or the receive timeout).
    func readAll() -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    func read(count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = recv(fd, &buf, min(buf.count, count - out.count), 0)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

func parseResponse(_ raw: [UInt8]) -> HTTPResult {
    guard let split = raw.indices.first(where: { i in i + 3 < raw.count && raw[i] == 13 && raw[i + 1] == 10 && raw[i + 2] == 13 && raw[i + 3] == 10 }) else {
        return HTTPResult(status: 0, headers: [:], body: raw)
    }
    let head = String(decoding: raw[..<split], as: UTF8.self).components(separatedBy: "\r\n")
    let status = Int(head[0].split(separator: " ")[1]) ?? 0
    var headers: [String: String] = [:]
    for h in head.dropFirst() {
        guard let c = h.firstIndex(of: ":") else { continue }
        headers[h[..<c].lowercased()] = h[h.index(after: c)...].trimmingCharacters(in: .whitespaces)
    }
    var body = Array(raw[(split + 4)...])
    if headers["transfer-encoding"] == "chunked" {
        var out: [UInt8] = []
        var i = 0
        while i < body.count {
            guard let eol = body[i...].indices.first(where: { body[$0] == 13 }) else { break }
            let size = Int(String(decoding: body[i..<eol], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            out.append(contentsOf: body[(eol + 2)..<min(body.count, eol + 2 + size)])
            i = eol + 2 + size + 2
        }
        body = out
    }
    return HTTPResult(status: status, headers: headers, body: body)
}

/// Runs blocking socket or process work on a thread of its own: the tests' servers answer on the
/// cooperative thread pool, which a blocked test must not hold (two cores: two threads).
func offPool<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

func http(_ port: Int, _ method: String, _ path: String, body: [UInt8]? = nil, token: String? = nil, headers: [String: String] = [:]) async throws -> HTTPResult {
    try await offPool { try httpBlocking(port, method, path, body: body, token: token, headers: headers) }
}

func http(_ port: Int, _ method: String, _ path: String, json: String, token: String? = nil) async throws -> HTTPResult {
    try await http(port, method, path, body: Array(json.utf8), token: token)
}

func httpBlocking(_ port: Int, _ method: String, _ path: String, body: [UInt8]? = nil, token: String? = nil, headers: [String: String] = [:]) throws -> HTTPResult {
    let c = try Connection(port: port)
    var req = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if let token { req += "Authorization: Bearer \(token)\r\n" }
    for (k, v) in headers { req += "\(k): \(v)\r\n" }
    if let body { req += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
    req += "\r\n"
    c.send(Array(req.utf8) + (body ?? []))
    return parseResponse(c.readAll())
}

func httpBlocking(_ port: Int, _ method: String, _ path: String, json: String, token: String? = nil) throws -> HTTPResult {
    try httpBlocking(port, method, path, body: Array(json.utf8), token: token)
}

private let sharedStore: Result<RuleStore, Error> = Result { try RuleStore(source: .init(paths: [Package.rules])) }
func bundledStore() throws -> RuleStore { try sharedStore.get() }

/// Runs a service on a free loopback port for the duration of `body`.
func withServer<T>(_ configure: (inout ServeConfiguration) -> Void = { _ in }, rules: [String] = [Package.rules],
                   _ body: (Int, FanzhaService) async throws -> T) async throws -> T {
    var config = ServeConfiguration(rules: .init(paths: rules))
    config.port = 0
    config.log = { _ in }
    configure(&config)
    // The bundled rules take seconds to compile in a debug build: compiled once for all tests.
    let service = try FanzhaService(configuration: config, store: rules == [Package.rules] ? bundledStore() : nil)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = service.application(port: 0, onRunning: { continuation.yield($0) })
    let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test")))
    let running = Task { try await group.run() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw POSIXError(.EADDRNOTAVAIL) }
    do {
        let result = try await body(port, service)
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return result
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        throw error
    }
}

/// Runs `fanzha` with arguments on stdin bytes; its stdout.
func runFanzha(_ arguments: [String], stdin: [UInt8]) async throws -> [UInt8] {
    try await offPool { try runFanzhaBlocking(arguments, stdin: stdin) }
}

func runFanzhaBlocking(_ arguments: [String], stdin: [UInt8]) throws -> [UInt8] {
    guard let exe = Package.fanzha else { throw POSIXError(.ENOENT) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = arguments
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    inPipe.fileHandleForWriting.write(Data(stdin))
    try inPipe.fileHandleForWriting.close()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Array(out)
}

let tokensFile = """
# name roles token
screener screen 0123456789abcdef-screen
desk dispatch 0123456789abcdef-dispatch
boss admin,screen,dispatch 0123456789abcdef-admin
"""
