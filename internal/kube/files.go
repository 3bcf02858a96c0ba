package kube

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxFileSize bounds every file read here: kubeconfig files and the certificate, key and
// token files that they name. Kubeconfig files are kilobytes. Even one with hundreds of
// clusters, each with an embedded CA bundle, stays in the low megabytes, so the limit only
// stops a wrong path, such as a disk image or a log, from being read into memory whole.
const maxFileSize = 16 << 20

// errNotRegularFile marks files that are rejected before reading because of their type:
// reading a FIFO blocks until another process writes to it, and a device such as /dev/zero
// never ends.
var errNotRegularFile = errors.New("not a regular file")

// readFile reads a regular file of at most maxFileSize bytes. Its errors do not repeat the
// path, so callers can say which setting named the file.
func readFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, withoutPath(err)
	}
	if err := checkFileInfo(info); err != nil {
		return nil, err
	}
	return readOpenedFile(path)
}

// readOpenedFile opens and reads path, checking its type again on the open file, because a
// FIFO or device can have replaced the file since it was checked. openNonBlocking keeps the
// open itself from waiting for a FIFO's writer.
func readOpenedFile(path string) ([]byte, error) {
	file, err := os.OpenFile(path, os.O_RDONLY|openNonBlocking, 0)
	if err != nil {
		return nil, withoutPath(err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, withoutPath(err)
	}
	if err := checkFileInfo(info); err != nil {
		return nil, err
	}

	// The file can grow after Stat, so the read is bounded too.
	data, err := io.ReadAll(io.LimitReader(file, maxFileSize+1))
	if err != nil {
		return nil, withoutPath(err)
	}
	if len(data) > maxFileSize {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

func checkFileInfo(info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		if info.Size() > maxFileSize {
			return tooLarge(info.Size())
		}
		return nil
	case mode.IsDir():
		return fmt.Errorf("%w: it is a directory", errNotRegularFile)
	case mode&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%w: it is a named pipe (FIFO)", errNotRegularFile)
	case mode&fs.ModeSocket != 0:
		return fmt.Errorf("%w: it is a socket", errNotRegularFile)
	case mode&fs.ModeDevice != 0:
		return fmt.Errorf("%w: it is a device", errNotRegularFile)
	default:
		return errNotRegularFile
	}
}

func tooLarge(size int64) error {
	return fmt.Errorf("its size, at least %.1f MiB, is over the limit of %d MiB",
		float64(size)/(1<<20), maxFileSize>>20)
}

// withoutPath returns the cause of a file system error without the path that
// fs.PathError repeats.
func withoutPath(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}
