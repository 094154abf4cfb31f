// Package cloexec marks ranges of open fds close-on-exec with as few
// system calls as the system allows, so that fds a process holds without
// having opened them (inherited, or passed by a service manager) reach no
// program it starts. The activation package marks the LISTEN_FDS range
// after a failed first call; socket-activate marks every fd from 3 up
// before it starts a program.
package cloexec
