import CharRNN
import Foundation
import SystemPackage
import XCTest

/// The default thread count: the cores this process may use.
final class CPUCountTests: XCTestCase {
    func testCPUListsAreCounted() {
        XCTAssertEqual(CPUCount.cpuList("0-1"), [0, 1])
        XCTAssertEqual(CPUCount.cpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11])
        XCTAssertEqual(CPUCount.cpuList("\t5"), [5])
        XCTAssertNil(CPUCount.cpuList(""))
        XCTAssertNil(CPUCount.cpuList("3-1"))
        XCTAssertNil(CPUCount.cpuList("a-b"))
        XCTAssertNil(CPUCount.cpuList("-1"))
    }

    /// Two hardware threads of one core count once: a sysfs tree where CPUs 0-3 are cores 0-3 and
    /// CPUs 4-7 their second threads.
    func testHardwareThreadsOfOneCoreCountOnce() throws {
        let root = scratchDirectory()
        for cpu in 0..<8 {
            let folder = URL(fileURLWithPath: root + "/cpu\(cpu)/topology")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(cpu % 4),\(cpu % 4 + 4)\n".write(to: folder.appendingPathComponent("thread_siblings_list"),
                                                    atomically: true, encoding: .utf8)
        }
        let sysfs = FilePath(root)
        XCTAssertEqual(CPUCount.physicalCores(of: Array(0..<8), sysfs: sysfs), 4)
        XCTAssertEqual(CPUCount.physicalCores(of: [0, 1, 2, 3], sysfs: sysfs), 4)
        XCTAssertEqual(CPUCount.physicalCores(of: [0, 4], sysfs: sysfs), 1, "two threads of core 0")
        XCTAssertEqual(CPUCount.physicalCores(of: [1, 5, 6], sysfs: sysfs), 2)
        XCTAssertNil(CPUCount.physicalCores(of: [0, 8], sysfs: sysfs), "CPU 8 has no topology here")
    }

    func testQuotasRoundUpAndMaxMeansNone() {
        XCTAssertEqual(CPUCount.parseCPUMax("250000 100000\n"), 3)
        XCTAssertEqual(CPUCount.parseCPUMax("100000 100000"), 1)
        XCTAssertNil(CPUCount.parseCPUMax("max 100000"))
        XCTAssertNil(CPUCount.quotaCPUs(quota: -1, period: 100000))
        XCTAssertEqual(CPUCount.quotaCPUs(quota: 50000, period: 100000), 1)
    }

    func testUsableIsWithinTheMachine() {
        XCTAssertGreaterThanOrEqual(CPUCount.usable, 1)
        XCTAssertLessThanOrEqual(CPUCount.usable, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// A cgroup tree laid out in a temporary folder: v2 takes the tightest of the group and its
    /// ancestors; v1 reads the cpu controller's quota and period.
    func testCgroupQuotasAreFoundInTheTree() throws {
        let root = scratchDirectory()
        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("v2/cpu.max", "max 100000\n")
        try write("v2/a/cpu.max", "150000 100000\n")
        try write("v2/a/b/cpu.max", "max 100000\n")
        try write("self-v2", "0::/a/b\n")
        XCTAssertEqual(CPUCount.cgroupQuota(cgroups: FilePath(root + "/self-v2"), root: FilePath(root + "/v2")), 2)
        try write("v1/cpu,cpuacct/x/cpu.cfs_quota_us", "300000\n")
        try write("v1/cpu,cpuacct/x/cpu.cfs_period_us", "100000\n")
        try write("self-v1", "4:memory:/x\n3:cpu,cpuacct:/x\n")
        XCTAssertEqual(CPUCount.cgroupQuota(cgroups: FilePath(root + "/self-v1"), root: FilePath(root + "/v1")), 3)
        try write("v1/cpu,cpuacct/y/cpu.cfs_quota_us", "-1\n")
        try write("v1/cpu,cpuacct/y/cpu.cfs_period_us", "100000\n")
        try write("self-none", "3:cpu,cpuacct:/y\n0::/\n")
        XCTAssertNil(CPUCount.cgroupQuota(cgroups: FilePath(root + "/self-none"), root: FilePath(root + "/v1")))
    }
}
