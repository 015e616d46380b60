package discovery

import (
	"errors"
	"testing"
)

func TestNewStatic(t *testing.T) {
	s, err := NewStatic([]string{"a", " b=127.0.0.1 ", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.targets) != 3 || s.targets[1].ID != "b" || s.targets[1].Ordinal != 1 || s.targets[1].Workload.Address != "127.0.0.1" ||
		!s.targets[2].Workload.Ready {
		t.Errorf("targets %+v", s.targets)
	}
	if _, err := NewStatic([]string{"a", "a"}); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewStatic([]string{"=x"}); !errors.Is(err, ErrEmptyID) {
		t.Errorf("empty: %v", err)
	}
}
