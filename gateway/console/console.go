// Package console is chave's admin console (docs/spec.md §3.4): a page at / and its
// static assets under /console/, embedded in the binary. The console is a
// client of the public REST API like any other; it has no endpoint of its
// own beyond these files.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// AssetPrefix is the URL path under which the console's assets are served.
const AssetPrefix = "/console/"

// ContentSecurityPolicy is sent with every console response: only chave's
// own origin, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// file is one embedded asset, ready to serve.
type file struct {
	name        string
	content     []byte
	contentType string
	etag        string
}

// handler serves the embedded files.
type handler struct {
	files   map[string]file // by URL path
	modTime time.Time
}

// Handler serves the console's page at "/" and its assets under
// AssetPrefix. Register it for exactly those paths ("GET /{$}" and
// "GET /console/"); any other path answers 404.
func Handler() http.Handler {
	h := &handler{files: map[string]file{}}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // not left to the host's mime tables
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".json":
			ct = "application/json; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		f := file{name: p, content: data, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		h.files[AssetPrefix+p] = f
		if p == "index.html" {
			h.files["/"] = f
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	// The file names carry no version, so every load revalidates; the
	// ETag makes that a 304 without a body.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("Content-Type", f.contentType)
	http.ServeContent(w, r, f.name, h.modTime, bytes.NewReader(f.content))
}
