package web

import (
	"html/template"
	"net/http"
)

// loginPage asks for the access token once. It posts to /_/login, which keeps
// the token in an HttpOnly cookie, so the token never appears in a URL, a
// log line or the page's JavaScript.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>filehub: token required</title>
<link rel="stylesheet" href="/_/static/style.css">
</head>
<body>
<main class="login">
<h1>filehub</h1>
<form method="post" action="/_/login">
<label for="token">This server needs an access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{{.Next}}">
<button type="submit">Enter</button>
{{with .Message}}<p role="alert" class="error">{{.}}</p>{{end}}
</form>
</main>
</body>
</html>
`))

// Login writes the token form with status (401 when a token is needed) and
// an optional message; next is the local path to return to.
func Login(w http.ResponseWriter, status int, next, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, struct{ Next, Message string }{next, msg})
}
