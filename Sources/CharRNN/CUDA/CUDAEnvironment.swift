/// What this machine offers the GPU path, each part found or not with the reason: what
/// `charrnn devices` prints and what `--device auto` decides from.
package struct CUDAEnvironment: Sendable {
    /// A library that was found (its file and version) or the one-line reason it was not.
    package enum Part: Sendable {
        case found(path: String, version: String)
        case missing(String)
    }

    package let driver: Part
    package let nvrtc: Part
    package let cublas: Part
    /// The GPUs the driver sees (empty without a driver), or why they could not be listed.
    package let devices: Swift.Result<[CUDADeviceInfo], CharRNNError>

    /// Looks everything up once; loading is cached by each library, so this is cheap after the first call.
    package static func probe() -> CUDAEnvironment {
        func part<L>(_ load: () throws -> L, _ describe: (L) -> (String, String)) -> Part {
            do {
                let (path, version) = describe(try load())
                return .found(path: path, version: version)
            } catch {
                return .missing("\(error)")
            }
        }
        let driver = part(CUDADriver.shared) { ($0.library.path, CUDADriver.versionString($0.version)) }
        let devices: Swift.Result<[CUDADeviceInfo], CharRNNError>
        do {
            devices = .success(try CUDADevice.devices())
        } catch let e as CharRNNError {
            devices = .failure(e)
        } catch {
            devices = .failure(.cuda("\(error)"))
        }
        return CUDAEnvironment(driver: driver, nvrtc: part(NVRTCCompiler.shared) { ($0.path, $0.versionString) },
                               cublas: part(CUBLAS.shared) { ($0.library.path, $0.versionString) }, devices: devices)
    }

    /// Why the GPU path cannot run here, or nil when it can (a GPU, NVRTC and cuBLAS all found).
    package var unusableBecause: String? {
        switch devices {
        case .failure(let e): return e.description.replacingOccurrences(of: "CUDA: ", with: "")
        case .success(let list) where list.isEmpty: return "the driver sees no GPU"
        default: break
        }
        if case .missing(let why) = nvrtc { return why.replacingOccurrences(of: "CUDA: ", with: "") }
        if case .missing(let why) = cublas { return why.replacingOccurrences(of: "CUDA: ", with: "") }
        return nil
    }
}
