package sqlstore

import (
	"errors"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// WriteFaults counts the writes that SQLite refused because of the disk
// or the database file, by kind. Why a counter of its own: such a write
// is answered with the same system-busy error as an overload (a full
// hash queue, a timed-out statement), and /readyz stays 200 on purpose,
// since reads go on working (see README, Faults); this is the signal that
// tells an operator the disk needs them, not more capacity. A constraint
// violation (the statement's own fault) and a cancelled or timed-out
// statement (the caller's) are not counted.
type WriteFaults struct {
	// Full: SQLITE_FULL, no space left on the device.
	Full int64
	// ReadOnly: SQLITE_READONLY, the file or its directory cannot be
	// written (a file system remounted read-only after an I/O error
	// shows up as IO instead, from the failed write itself).
	ReadOnly int64
	// IO: SQLITE_IOERR or SQLITE_CANTOPEN, a read, write, fsync or open
	// that the operating system refused.
	IO int64
	// Locked: SQLITE_BUSY or SQLITE_LOCKED, the file locked by another
	// process past busy_timeout (Sesame's own writes take turns on one
	// connection and never meet this).
	Locked int64
	// Corrupt: SQLITE_CORRUPT or SQLITE_NOTADB.
	Corrupt int64
}

// Total is the sum of every kind.
func (f WriteFaults) Total() int64 { return f.Full + f.ReadOnly + f.IO + f.Locked + f.Corrupt }

// Kinds of WriteFaults, as indexes of faultCounts.
const (
	faultFull = iota
	faultReadOnly
	faultIO
	faultLocked
	faultCorrupt
	numFaultKinds
)

// faultCounts are the counters behind WriteFaults.
type faultCounts [numFaultKinds]atomic.Int64

// count counts err if it is a storage fault (see faultKind).
func (c *faultCounts) count(err error) {
	if c == nil || err == nil {
		return
	}
	if k, ok := faultKind(err); ok {
		c[k].Add(1)
	}
}

func (c *faultCounts) load() WriteFaults {
	if c == nil {
		return WriteFaults{}
	}
	return WriteFaults{Full: c[faultFull].Load(), ReadOnly: c[faultReadOnly].Load(), IO: c[faultIO].Load(),
		Locked: c[faultLocked].Load(), Corrupt: c[faultCorrupt].Load()}
}

// faultKind classifies a SQLite error by its primary result code
// (https://sqlite.org/rescode.html); ok is false for every error that is
// not the storage's fault.
func faultKind(err error) (kind int, ok bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return faultKindOf(e.Code())
}

func faultKindOf(code int) (kind int, ok bool) {
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return faultFull, true
	case sqlite3.SQLITE_READONLY:
		return faultReadOnly, true
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return faultIO, true
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return faultLocked, true
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return faultCorrupt, true
	}
	return 0, false
}
