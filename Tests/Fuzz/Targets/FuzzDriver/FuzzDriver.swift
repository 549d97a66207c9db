import Foundation

// How the fuzz targets run: each target's `main.swift` hands its function to libFuzzer's driver
// (`LLVMFuzzerRunDriver`, from the toolchain's libclang_rt.fuzzer_no_main). SwiftPM links an
// executable's `main` to the module's own top-level code, so libFuzzer's `main` (what
// `-sanitize=fuzzer` links) cannot be used; scripts/fuzz.sh instead compiles with the same
// coverage instrumentation and links the driver without its `main`.

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// Runs libFuzzer with this process's arguments on `target`, which gets each input's bytes and
/// returns 0; it crashes (a failed precondition) when what must hold does not.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}
