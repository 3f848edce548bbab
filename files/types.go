package files

import (
	"bytes"
	"mime"
	"path"
	"strings"
	"unicode/utf8"
)

const octetStream = "application/octet-stream"

// ContentType returns the media type of a file from its name's extension
// alone; content is never sniffed, so an uploaded file cannot talk its way
// into being HTML. Source code and other plain-text formats are served as
// "text/plain; charset=utf-8" so browsers show them instead of downloading
// them; the table below wins over mime.TypeByExtension, whose answers depend
// on the machine's mime.types. Every text/* type carries charset=utf-8.
// Unknown extensions are "application/octet-stream".
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case "":
		return octetStream
	case ".txt", ".text", ".md", ".markdown", ".rst", ".adoc", ".org", ".log",
		".py", ".go", ".mod", ".sum", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs",
		".java", ".kt", ".rb", ".pl", ".php", ".lua", ".swift", ".cs", ".scala",
		".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".sql", ".tex",
		".ini", ".cfg", ".conf", ".toml", ".yaml", ".yml", ".properties",
		".diff", ".patch", ".proto", ".tsx", ".jsx", ".vue", ".svelte":
		return "text/plain; charset=utf-8"
	case ".json", ".map", ".webmanifest":
		return "application/json"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".tsv":
		return "text/tab-separated-values; charset=utf-8"
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".xml":
		return "text/xml; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".wasm":
		return "application/wasm"
	}
	t := mime.TypeByExtension(ext)
	if t == "" {
		return octetStream
	}
	if strings.HasPrefix(t, "text/") && !strings.Contains(t, "charset=") {
		t += "; charset=utf-8"
	}
	return t
}

// IsText reports whether b can travel as a UTF-8 string: valid UTF-8 with no
// NUL byte (which would make it a binary file to every tool that matters).
func IsText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}
