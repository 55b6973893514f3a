package runbook

import "testing"

func TestMatchGlob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		glob, name string
		want       bool
	}{
		{"ios/Features/ExamSubmit/**", "ios/Features/ExamSubmit/View.swift", true},
		{"ios/Features/ExamSubmit/**", "ios/Features/ExamSubmit/a/b/c.swift", true},
		{"ios/Features/ExamSubmit/**", "ios/Features/ExamSubmitOld/View.swift", false},
		{"**/*.sql", "db/migrations/0001.sql", true},
		{"**/*.sql", "x.sql", true},
		{"android/*.kt", "android/a/b.kt", false},
		{"android/*.kt", "./android/b.kt", true},
		{"a/[", "a/[", false},
	} {
		if got := MatchGlob(tt.glob, tt.name); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
	c := Covers{Paths: []string{"ios/**"}, Flags: []string{"v2"}}
	if hit, why := c.Touches([]string{"README.md"}, []string{"v2"}); !hit || why != "flag v2" {
		t.Errorf("Touches by flag = %v %q", hit, why)
	}
	if hit, _ := c.Touches([]string{"android/x"}, nil); hit {
		t.Error("an unrelated path touches nothing")
	}
}
