package sim

import (
	"reflect"
	"testing"

	"github.com/synack-go/synack/link/impair"
	"github.com/synack-go/synack/link/pipe"
)

// Every impairment pipe.Config offers reaches the simulated link's model:
// a field set in pipe.Config with a namesake in impair.Config comes out
// of impairConfig with the same value (ReorderDelay was once dropped, and
// the reordering benchmark measured a path without it). Seed is the
// exception: each direction derives its own from the simulation's.
func TestImpairConfigCarriesEveryField(t *testing.T) {
	it := reflect.TypeOf(impair.Config{})
	pt := reflect.TypeOf(pipe.Config{})
	shared := 0
	for i := range pt.NumField() {
		f := pt.Field(i)
		if f.Name == "Seed" {
			continue
		}
		if _, ok := it.FieldByName(f.Name); !ok {
			continue
		}
		shared++
		var cfg pipe.Config
		v := reflect.ValueOf(&cfg).Elem().Field(i)
		switch v.Kind() {
		case reflect.Float64:
			v.SetFloat(0.25)
		case reflect.Int, reflect.Int64:
			v.SetInt(7)
		default:
			t.Fatalf("pipe.Config.%s: kind %v not handled by this test", f.Name, v.Kind())
		}
		got := reflect.ValueOf(impairConfig(cfg)).FieldByName(f.Name)
		if !got.Equal(v) {
			t.Errorf("pipe.Config.%s = %v reaches the model as %v", f.Name, v, got)
		}
	}
	if shared < 9 {
		t.Errorf("only %d fields shared between pipe.Config and impair.Config: the test lost track of them", shared)
	}
}
