import CharRNN
import Foundation
import XCTest

/// The default thread count: the cores this process may use.
final class CPUCountTests: XCTestCase {
    func testCPUListsAreCounted() {
        XCTAssertEqual(CPUCount.cpuListCount("0-1"), 2)
        XCTAssertEqual(CPUCount.cpuListCount("0-3,8,10-11\n"), 7)
        XCTAssertEqual(CPUCount.cpuListCount("\t5"), 1)
        XCTAssertNil(CPUCount.cpuListCount(""))
        XCTAssertNil(CPUCount.cpuListCount("3-1"))
        XCTAssertNil(CPUCount.cpuListCount("a-b"))
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
}
