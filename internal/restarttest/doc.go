// Package restarttest runs socket-activate and the servers it restarts
// under test, and sends them load.
//
// It holds what the restart tests of the examples, of the fd store and of
// socket-activate share: [Build] and [BuildActivator] build a program once
// per test binary, [Lines] collects and awaits the lines a process writes,
// [Activator] runs socket-activate and cleans up after it, and [Load]
// sends HTTP requests from a few workers, bounded in count and time,
// counting the answers by the pid that gave them and the failures. [Client]
// opens a connection per request; [KeepAliveClient] keeps them, and [Post]
// sends what a client does not send again when a kept connection ends.
//
// Every wait is bounded by a timeout the caller chooses. The package
// builds on every platform; [Activator] stops a process with SIGTERM and
// kills what a server left behind only on unix, and other platforms,
// where socket-activate does not run, get os.Kill instead.
package restarttest
