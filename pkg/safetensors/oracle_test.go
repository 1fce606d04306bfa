package safetensors

import (
	"path/filepath"
	"testing"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// oracleManifest loads testdata/oracle/<arch>/<file>.json.
func oracleManifest(t testing.TB, arch, file string) *fixture.Manifest {
	t.Helper()
	dir, err := fixture.ArchDir(arch)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fixture.LoadManifest(filepath.Join(dir, file+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
