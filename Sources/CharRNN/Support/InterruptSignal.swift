import CCharRNNKernels

/// Ctrl-C for a program that asks for it (the command-line tool does; the library never installs it
/// on its own): after `install()`, the first SIGINT or SIGTERM sets `received` instead of ending the
/// process, so a training run can save and stop (`Trainer.run(stop:)`); a second one ends it at once.
package enum InterruptSignal {
    package static func install() { crn_install_interrupt_handler() }
    package static var received: Bool { crn_interrupted() != 0 }
}
