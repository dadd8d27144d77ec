package pipe

import (
	"reflect"
	"testing"

	"github.com/synack-go/synack/link/impair"
)

// Every impairment Config offers reaches the model, on the wall-clock pipe
// and in package sim alike: a field set in Config with a namesake in
// impair.Config comes out of Impairments with the same value (sim once
// dropped ReorderDelay, and the reordering benchmark measured a path
// without it). Seed is the exception: each direction derives its own.
func TestImpairmentsCarryEveryField(t *testing.T) {
	it := reflect.TypeOf(impair.Config{})
	pt := reflect.TypeOf(Config{})
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
		var cfg Config
		v := reflect.ValueOf(&cfg).Elem().Field(i)
		switch v.Kind() {
		case reflect.Float64:
			v.SetFloat(0.25)
		case reflect.Int, reflect.Int64:
			v.SetInt(7)
		default:
			t.Fatalf("Config.%s: kind %v not handled by this test", f.Name, v.Kind())
		}
		got := reflect.ValueOf(cfg.Impairments()).FieldByName(f.Name)
		if !got.Equal(v) {
			t.Errorf("Config.%s = %v reaches the model as %v", f.Name, v, got)
		}
	}
	if shared < 9 {
		t.Errorf("only %d fields shared between Config and impair.Config: the test lost track of them", shared)
	}
}
