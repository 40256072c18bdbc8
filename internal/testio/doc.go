// Package testio holds the I/O helpers that tests of several packages
// share: a buffer a test reads while a child process or a logger writes
// to it from other goroutines.
package testio
