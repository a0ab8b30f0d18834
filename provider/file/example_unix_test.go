//go:build unix

package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/file"
)

func ExampleErrInsecurePermissions() {
	path, cleanup := writeExample(exampleFile)
	defer cleanup()
	os.Chmod(path, 0o644) // readable by everyone

	p := file.New(func(o *file.Options) { o.Path = path })
	_, err := p.Retrieve(context.Background(), provider.DefaultProfile)
	var perr *file.PermissionError
	if errors.Is(err, file.ErrInsecurePermissions) && errors.As(err, &perr) {
		fmt.Printf("refused: mode %04o; fix: chmod 600 %s\n", perr.Mode, filepath.Base(perr.Path))
	}
	// Output:
	// refused: mode 0644; fix: chmod 600 credentials
}
