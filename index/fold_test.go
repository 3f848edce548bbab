package index

import "testing"

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Report.PDF": "report.pdf", "résumé": "resume", "Résumé.PDF": "resume.pdf", "Straße": "strasse",
		"ÅNGSTRÖM": "angstrom", "naïve café": "naive cafe", "日本語": "日本語", "": "",
		"ΣΊΣΥΦΟΣ": "σισυφοσ", "Ünïcödé — ✓": "unicode — ✓", "ẞ": "ss",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkFold(b *testing.B) {
	for b.Loop() {
		fold("Quarterly Résumé 2024.pdf")
	}
}

func BenchmarkFoldASCII(b *testing.B) {
	for b.Loop() {
		fold("Quarterly Resume 2024.pdf")
	}
}
