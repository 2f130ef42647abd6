import Foundation
import SystemPackage

/// NVRTC, CUDA's run-time compiler, loaded with dlopen: turns KernelSource's text into a CUBIN for the
/// device's own architecture, so an NVRTC newer than the driver still works (no PTX for the driver to
/// compile) and a machine with only the driver can take NVRTC from PyPI's nvidia-cuda-nvrtc.
package final class NVRTCCompiler: @unchecked Sendable {
    typealias Result = Int32
    typealias Program = OpaquePointer?

    let library: SharedLibrary
    /// (major, minor), e.g. (13, 0).
    package let version: (major: Int, minor: Int)
    package var path: String { library.path }

    private let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<Program>, UnsafePointer<CChar>, UnsafePointer<CChar>?,
                                                    Int32, UnsafePointer<UnsafePointer<CChar>?>?,
                                                    UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    private let nvrtcCompileProgram: @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    private let nvrtcGetProgramLogSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Result
    private let nvrtcGetProgramLog: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Result
    private let nvrtcGetCUBINSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Result
    private let nvrtcGetCUBIN: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Result
    private let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<Program>) -> Result
    private let nvrtcGetErrorString: @convention(c) (Result) -> UnsafePointer<CChar>?

    static let search = SharedLibrary.Search(
        what: "NVRTC (pip install nvidia-cuda-nvrtc)", variable: "CHARRNN_NVRTC",
        names: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
        folders: CUDASearchPaths.toolkitFolders)

    /// Loaded once per process; the outcome, failure included, is kept.
    package static func shared() throws -> NVRTCCompiler { try loaded.get() }
    private static let loaded: Swift.Result<NVRTCCompiler, Error> = Swift.Result { try NVRTCCompiler() }

    private init() throws {
        let lib = try SharedLibrary.open(Self.search)
        library = lib
        nvrtcCreateProgram = try lib.function("nvrtcCreateProgram")
        nvrtcCompileProgram = try lib.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try lib.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try lib.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try lib.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try lib.function("nvrtcGetCUBIN")
        nvrtcDestroyProgram = try lib.function("nvrtcDestroyProgram")
        nvrtcGetErrorString = try lib.function("nvrtcGetErrorString")
        let getVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Result =
            try lib.function("nvrtcVersion")
        var major: Int32 = 0, minor: Int32 = 0
        _ = getVersion(&major, &minor)
        version = (Int(major), Int(minor))
    }

    package var versionString: String { "\(version.major).\(version.minor)" }

    /// The options every compile uses besides the architecture: exact fp32 math (no fast-math
    /// approximations), so the kernels agree with the CPU's.
    static let options = ["--std=c++17", "--fmad=true"]

    /// Compiles `source` to a CUBIN for sm_<architecture> (e.g. 90 for an H100), or throws with the
    /// compiler's log.
    package func compile(_ source: String, name: String = "charrnn_kernels.cu", architecture: Int) throws -> [UInt8] {
        var program: Program = nil
        try check(source.withCString { src in name.withCString { nvrtcCreateProgram(&program, src, $0, 0, nil, nil) } },
                  "nvrtcCreateProgram")
        defer { _ = nvrtcDestroyProgram(&program) }
        let options = ["--gpu-architecture=sm_\(architecture)"] + Self.options
        let status = withCStrings(options) { nvrtcCompileProgram(program, Int32(options.count), $0) }
        if status != 0 {
            let log = self.log(program).trimmingCharacters(in: .whitespacesAndNewlines)
            let first = log.split(separator: "\n").first(where: { $0.contains("error") }).map(String.init) ?? log
            throw CharRNNError.cuda("NVRTC \(versionString) could not compile \(name) for sm_\(architecture): "
                                    + (first.isEmpty ? describe(status) : first))
        }
        var size = 0
        try check(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize")
        var cubin = [UInt8](repeating: 0, count: size)
        try cubin.withUnsafeMutableBytes { raw in
            try check(nvrtcGetCUBIN(program, raw.baseAddress!.assumingMemoryBound(to: CChar.self)), "nvrtcGetCUBIN")
        }
        return cubin
    }

    private func log(_ program: Program) -> String {
        var size = 0
        guard nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "" }
        var text = [CChar](repeating: 0, count: size)
        guard nvrtcGetProgramLog(program, &text) == 0 else { return "" }
        return SharedLibrary.string(text)
    }

    private func describe(_ status: Result) -> String {
        nvrtcGetErrorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
    }

    private func check(_ status: Result, _ call: String) throws {
        if status != 0 { throw CharRNNError.cuda("\(call): \(describe(status))") }
    }
}

/// Calls body with a C array of C strings alive for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Compiled modules on disk, so a run after the first skips NVRTC (a second or more for the whole
/// module). The key is a hash of everything that changes the CUBIN: the source, the architecture, the
/// compile options and NVRTC's version. A damaged file fails to load and is compiled and written again.
package enum KernelCache {
    /// $CHARRNN_CACHE_DIR, else $XDG_CACHE_HOME/charrnn, else ~/.cache/charrnn; nil when none is usable.
    static var folder: FilePath? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CHARRNN_CACHE_DIR"], !dir.isEmpty { return FilePath(dir) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return FilePath(xdg).appending("charrnn") }
        if let home = env["HOME"], !home.isEmpty { return FilePath(home).appending(".cache/charrnn") }
        return nil
    }

    static func key(source: String, architecture: Int, compiler: NVRTCCompiler) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let text = [source, "sm_\(architecture)", NVRTCCompiler.options.joined(separator: " "), compiler.versionString]
            .joined(separator: "\u{0}")
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    static func path(forKey key: String) -> FilePath? {
        folder?.appending("cuda-kernels-\(key).cubin")
    }

    /// The cached CUBIN, or nil.
    static func read(key: String) -> [UInt8]? {
        guard let path = path(forKey: key), let data = FileManager.default.contents(atPath: path.string),
              !data.isEmpty else { return nil }
        return [UInt8](data)
    }

    /// Stores a CUBIN; a cache that cannot be written (a read-only home) is skipped, not an error.
    static func write(_ cubin: [UInt8], key: String) {
        guard let path = path(forKey: key) else { return }
        try? AtomicFile.makeDirectory(path.removingLastComponent().string)
        try? AtomicFile.write(cubin, to: path.string)
    }
}
