import Foundation
import Testing
@testable import Fanzha

// LineReader: lines across chunk boundaries, CR LF, a missing final newline, and lines over the
// limit skipped without being held in memory.

private func lines(of data: Data, chunk: Int, max: Int = LineReader.defaultMaxLineBytes) throws -> [String] {
    let dir = try TemporaryDirectory()
    let path = try dir.write("in.txt", data)
    let reader = LineReader(handle: try #require(FileHandle(forReadingAtPath: path)), chunkSize: chunk, maxLineBytes: max)
    var out: [String] = []
    while let next = reader.next() {
        switch next {
        case .line(let l): out.append("\(reader.lineNumber):" + String(decoding: l, as: UTF8.self))
        case .tooLong(let bytes): out.append("\(reader.lineNumber):too long \(bytes)")
        }
    }
    return out
}

struct LineReaderTests {
    @Test(arguments: [1, 2, 3, 5, 7, 64, 1 << 20])
    func linesAreTheSameWhateverTheChunkSize(chunk: Int) throws {
        let text = "请转入安全账户\r\n\n你好，验证码发我\nlast line without newline"
        #expect(try lines(of: Data(text.utf8), chunk: chunk)
                == ["1:请转入安全账户", "2:", "3:你好，验证码发我", "4:last line without newline"])
    }

    @Test(arguments: [1, 4, 10, 4096])
    func aLineOverTheLimitIsSkippedAndReadingGoesOn(chunk: Int) throws {
        let long = String(repeating: "安全账户", count: 10)   // 120 bytes
        let text = "短信一\n\(long)\n短信三\n\(long)"
        #expect(try lines(of: Data(text.utf8), chunk: chunk, max: 100)
                == ["1:短信一", "2:too long 120", "3:短信三", "4:too long 120"])
        // Exactly at the limit is still a line, with or without a CR before its LF.
        #expect(try lines(of: Data("\(long)\n".utf8), chunk: chunk, max: 120) == ["1:\(long)"])
        #expect(try lines(of: Data("\(long)\r\nx\r\n".utf8), chunk: chunk, max: 120) == ["1:\(long)", "2:x"])
    }

    @Test func emptyInputHasNoLines() throws {
        #expect(try lines(of: Data(), chunk: 16).isEmpty)
        #expect(try lines(of: Data("\n".utf8), chunk: 16) == ["1:"])
    }

    /// A live call's events come down a pipe a few at a time: each line is handed on when it
    /// arrives, not when a chunk has filled (or the writer has closed).
    @Test func aPipesLinesArriveAsTheyAreWritten() throws {
        let pipe = Pipe()
        let reader = LineReader(handle: pipe.fileHandleForReading)
        pipe.fileHandleForWriting.write(Data("{\"call\":\"c1\"}\n".utf8))
        final class Box: @unchecked Sendable { var line: String? }
        let box = Box()
        let got = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if case .line(let l)? = reader.next() { box.line = String(decoding: l, as: UTF8.self) }
            got.signal()
        }
        let inTime = got.wait(timeout: .now() + 10) == .success
        try pipe.fileHandleForWriting.close()   // frees a reader that waited for more
        if !inTime { _ = got.wait(timeout: .now() + 10) }
        #expect(inTime && box.line == "{\"call\":\"c1\"}")
    }

    /// `wouldWait` says whether `next` would wait for the pipe, and the line end it finds is the
    /// one `next` uses: asked between every two lines, the lines are what they are without it.
    @Test func wouldWaitSaysWhetherALineIsThereAndChangesNoLine() throws {
        let pipe = Pipe()
        let reader = LineReader(handle: pipe.fileHandleForReading)
        #expect(reader.wouldWait, "nothing written yet")
        pipe.fileHandleForWriting.write(Data("第一行\n第二行很长很长\n第三".utf8))
        var got: [String] = []
        #expect(!reader.wouldWait, "the pipe has bytes to read")
        for _ in 0..<2 {
            guard case .line(let l)? = reader.next() else { break }
            got.append(String(decoding: l, as: UTF8.self))
            _ = reader.wouldWait
        }
        #expect(got == ["第一行", "第二行很长很长"])
        #expect(reader.wouldWait, "half a line in memory and nothing more to read")
        pipe.fileHandleForWriting.write(Data("行\n".utf8))
        #expect(!reader.wouldWait)
        #expect(!reader.wouldWait, "asked twice")
        if case .line(let l)? = reader.next() { got.append(String(decoding: l, as: UTF8.self)) }
        try pipe.fileHandleForWriting.close()
        #expect(!reader.wouldWait, "at the end of input, next does not wait")
        #expect(reader.next() == nil)
        #expect(got == ["第一行", "第二行很长很长", "第三行"])
    }
}
