import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A C library opened at run time with dlopen, so charrnn builds and runs where it is absent.
/// The handle is never closed: the function pointers taken from it live as long as the process.
final class SharedLibrary: @unchecked Sendable {
    let path: String
    private let handle: UnsafeMutableRawPointer
    /// The search's error kind, for a function the library lacks.
    private let failure: @Sendable (String) -> CharRNNError

    private init(path: String, handle: UnsafeMutableRawPointer, failure: @escaping @Sendable (String) -> CharRNNError) {
        self.path = path
        self.handle = handle
        self.failure = failure
    }

    /// Where one library was looked for, for the message when none was found.
    struct Search: Sendable {
        /// What the user calls it ("the NVIDIA driver (libcuda)").
        let what: String
        /// The variable that names the file and, when set, is the only place tried.
        let variable: String
        /// File names, newest first; each is tried through the loader's own path, then in every folder.
        let names: [String]
        let folders: [FilePath]
        /// RTLD_GLOBAL: for a library whose own plugins, opened later, look up its symbols (Open MPI's).
        var global = false
        /// The error that says it was not found or did not load.
        var failure: @Sendable (String) -> CharRNNError = { CharRNNError.cuda($0) }
    }

    /// The first of the search's candidates that dlopen accepts.
    static func open(_ search: Search) throws -> SharedLibrary {
        let mode = RTLD_NOW | (search.global ? RTLD_GLOBAL : RTLD_LOCAL)
        if let named = ProcessInfo.processInfo.environment[search.variable], !named.isEmpty {
            if let handle = dlopen(named, mode) { return SharedLibrary(path: named, handle: handle, failure: search.failure) }
            throw search.failure("\(search.variable)=\(named): cannot load \(search.what): \(lastError())")
        }
        var candidates = search.names
        for folder in search.folders {
            for name in search.names { candidates.append(folder.appending(name).string) }
        }
        for candidate in candidates {
            if candidate.hasPrefix("/") && !FileManager.default.fileExists(atPath: candidate) { continue }
            if let handle = dlopen(candidate, mode) {
                return SharedLibrary(path: resolvedPath(handle, candidate), handle: handle, failure: search.failure)
            }
        }
        let places = (["the loader's path"] + search.folders.map(\.string)).joined(separator: ", ")
        throw search.failure("\(search.what) not found: looked for \(search.names.joined(separator: ", ")) in "
                                + "\(places) (set \(search.variable) to its path)")
    }

    /// A C string held in a fixed-size buffer.
    static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func lastError() -> String {
        guard let e = dlerror() else { return "unknown error" }
        return String(cString: e)
    }

    /// The file dlopen picked for a bare name (found through the loader's path), read from the
    /// process's memory map; a full path is itself.
    private static func resolvedPath(_ handle: UnsafeMutableRawPointer, _ candidate: String) -> String {
        guard !candidate.hasPrefix("/"),
              let file = FileHandle(forReadingAtPath: "/proc/self/maps") else { return candidate }
        // Read to the end: /proc's files report a size of 0, so a read of the file's size gets nothing.
        let maps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        try? file.close()
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let file = line[slash...]
            if file.split(separator: "/").last?.hasPrefix(candidate) == true { return String(file) }
        }
        return candidate
    }

    /// A required function: its absence means the library is too old or not the one expected.
    func function<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let symbol = dlsym(handle, name) else {
            throw failure("\(path) has no \(name) (too old a version?)")
        }
        return unsafeBitCast(symbol, to: type)
    }

    /// The address of a variable the library exports (Open MPI's predefined handles), or nil.
    func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }

    /// A function that later versions added or removed; nil when absent.
    func optionalFunction<T>(_ name: String, as type: T.Type = T.self) -> T? {
        guard let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}

/// The folders where the CUDA toolkit's libraries (NVRTC, cuBLAS) are usually found: the toolkit's own
/// installation, then the NVIDIA wheels of Python environments (PyPI's nvidia-cuda-nvrtc and
/// nvidia-cublas, and PyTorch's CUDA builds, which bring both).
enum CUDASearchPaths {
    static let driverFolders: [FilePath] = [
        "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
        "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib", "/run/opengl-driver/lib",
    ]

    /// Read once: NVRTC and cuBLAS search the same folders.
    static let toolkitFolders: [FilePath] = {
        let env = ProcessInfo.processInfo.environment
        var roots: [FilePath] = []
        for variable in ["CUDA_HOME", "CUDA_PATH"] {
            if let v = env[variable], !v.isEmpty { roots.append(FilePath(v)) }
        }
        roots.append("/usr/local/cuda")
        roots += subfolders(of: "/usr/local", matching: { $0.hasPrefix("cuda-") }).sorted { $0.string > $1.string }
        var folders: [FilePath] = []
        for root in roots {
            folders.append(root.appending("lib64"))
            folders.append(root.appending("targets/x86_64-linux/lib"))
            folders.append(root.appending("targets/sbsa-linux/lib"))
        }
        folders += ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
        for sitePackages in pythonSitePackages(env) {
            for wheel in ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib", "nvidia/cublas/lib", "nvidia/nccl/lib"] {
                folders.append(sitePackages.appending(wheel))
            }
        }
        return folders
    }()

    /// site-packages of the active virtual environment, the user's and the system's Pythons, and of
    /// environments under /opt (where containers often keep PyTorch).
    private static func pythonSitePackages(_ env: [String: String]) -> [FilePath] {
        var prefixes: [FilePath] = []
        if let venv = env["VIRTUAL_ENV"], !venv.isEmpty { prefixes.append(FilePath(venv)) }
        // The environment charrnn itself was installed into (pip install of the wheel: <prefix>/bin/charrnn),
        // also when it is run without activating that environment.
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            prefixes.append(FilePath(exe).removingLastComponent().removingLastComponent())
        }
        if let conda = env["CONDA_PREFIX"], !conda.isEmpty { prefixes.append(FilePath(conda)) }
        if let home = env["HOME"], !home.isEmpty { prefixes.append(FilePath(home).appending(".local")) }
        prefixes += ["/usr/local", "/usr"]
        for opt in subfolders(of: "/opt", matching: { _ in true }) {
            prefixes.append(opt)
            prefixes.append(opt.appending(".venv"))
        }
        var result: [FilePath] = []
        for prefix in prefixes {
            for python in subfolders(of: prefix.appending("lib"), matching: { $0.hasPrefix("python3") }) {
                result.append(python.appending("site-packages"))
                result.append(python.appending("dist-packages"))
            }
        }
        return result.filter { FileManager.default.fileExists(atPath: $0.string) }
    }

    private static func subfolders(of folder: FilePath, matching keep: (String) -> Bool) -> [FilePath] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.string) else { return [] }
        return names.filter(keep).sorted().map { folder.appending($0) }
    }
}
