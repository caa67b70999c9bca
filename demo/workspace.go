package demo

import (
	"log/slog"
	"os"
	"path/filepath"
)

// Workspace is where a demo keeps its data and its log.
type Workspace struct {
	Dir    string       // the data directory
	Temp   bool         // Dir was made for this demo
	Logger *slog.Logger // writes to Dir/demo.log; also the default logger until Close

	logFile  *os.File
	prev     *slog.Logger
	removeIt bool
}

// OpenWorkspace prepares dir (a new temporary directory when dir is
// ""): the services log to dir/demo.log, and so do the libraries that use
// the default logger (migrations) until Close. A temporary directory is
// removed by Close unless keep.
func OpenWorkspace(dir string, keep bool) (*Workspace, error) {
	w := &Workspace{Dir: dir, Temp: dir == ""}
	if w.Temp {
		var err error
		if w.Dir, err = os.MkdirTemp("", "baohan-demo-"); err != nil {
			return nil, err
		}
		w.removeIt = !keep
	}
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(w.Dir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		if w.removeIt {
			os.RemoveAll(w.Dir)
		}
		return nil, err
	}
	w.logFile = f
	w.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w.prev = slog.Default()
	slog.SetDefault(w.Logger)
	return w, nil
}

// Close restores the default logger, closes the log and removes a
// temporary directory that is not kept.
func (w *Workspace) Close() error {
	slog.SetDefault(w.prev)
	err := w.logFile.Close()
	if w.removeIt {
		if rerr := os.RemoveAll(w.Dir); err == nil {
			err = rerr
		}
	}
	return err
}
