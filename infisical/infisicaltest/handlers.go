package infisicaltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// route dispatches a request as Fastify's router would; what it does not
// serve gets Fastify's own not-found answer, which Infisical keeps.
func (s *Server) route(r *http.Request, reqID string) answer {
	p, m := r.URL.Path, r.Method
	s.mu.Lock()
	noV3, noV4 := s.noV3, s.noV4
	s.mu.Unlock()
	auth := func(h func(*http.Request, string, *principal) answer) answer { return s.withPrincipal(r, reqID, h) }
	list := func(version api) answer {
		if a, ok := s.popRaw(); ok {
			return a
		}
		return auth(s.listSecrets(version))
	}
	secretRoutes := func(version api) (answer, bool) {
		switch m {
		case http.MethodGet:
			return auth(s.getSecret(version)), true
		case http.MethodPost:
			return auth(s.createSecret(version)), true
		case http.MethodPatch:
			return auth(s.updateSecret(version)), true
		case http.MethodDelete:
			return auth(s.deleteSecret(version)), true
		}
		return answer{}, false
	}
	batchRoutes := func(version api) (answer, bool) {
		switch m {
		case http.MethodPost:
			return auth(s.createBatch(version)), true
		case http.MethodPatch:
			return auth(s.updateBatch(version)), true
		}
		return answer{}, false
	}
	folderRoutes := func(v2 bool, rest string) (answer, bool) {
		switch {
		case rest == "" && m == http.MethodGet:
			return auth(s.listFolders(v2)), true
		case rest == "" && m == http.MethodPost:
			return auth(s.createFolder(v2)), true
		case rest != "" && !strings.Contains(rest, "/") && m == http.MethodDelete:
			return auth(s.deleteFolder(v2)), true
		}
		return answer{}, false
	}

	switch {
	case p == "/api/status" && m == http.MethodGet:
		return jsonAnswer(http.StatusOK, map[string]any{"date": time.Now().UTC(), "message": "Ok"})
	case p == "/api/v1/auth/universal-auth/login" && m == http.MethodPost:
		return s.loginUniversal(r, reqID)
	case p == "/api/v1/auth/kubernetes-auth/login" && m == http.MethodPost:
		return s.loginKubernetes(r, reqID)
	case p == "/api/v1/auth/token/renew" && m == http.MethodPost:
		return s.renew(r, reqID)
	case p == "/api/v1/auth/token/revoke" && m == http.MethodPost:
		return s.revoke(r, reqID)
	case !noV4 && p == "/api/v4/secrets" && m == http.MethodGet:
		return list(v4)
	case !noV4 && p == "/api/v4/secrets/batch":
		if a, ok := batchRoutes(v4); ok {
			return a
		}
		if m == http.MethodGet {
			return auth(s.getSecret(v4))
		}
	case !noV4 && strings.HasPrefix(p, "/api/v4/secrets/") && isName(p[len("/api/v4/secrets/"):]):
		if a, ok := secretRoutes(v4); ok {
			return a
		}
	case !noV3 && p == "/api/v3/secrets/raw" && m == http.MethodGet:
		return list(v3)
	case !noV3 && p == "/api/v3/secrets/batch/raw":
		if a, ok := batchRoutes(v3); ok {
			return a
		}
	case !noV3 && strings.HasPrefix(p, "/api/v3/secrets/raw/") && isName(p[len("/api/v3/secrets/raw/"):]):
		if a, ok := secretRoutes(v3); ok {
			return a
		}
	case p == "/api/v1/folders" || strings.HasPrefix(p, "/api/v1/folders/"):
		if a, ok := folderRoutes(false, strings.TrimPrefix(strings.TrimPrefix(p, "/api/v1/folders"), "/")); ok {
			return a
		}
	case p == "/api/v2/folders" || strings.HasPrefix(p, "/api/v2/folders/"):
		if a, ok := folderRoutes(true, strings.TrimPrefix(strings.TrimPrefix(p, "/api/v2/folders"), "/")); ok {
			return a
		}
	}
	if a, ok := s.identityRoute(r, reqID, auth); ok {
		return a
	}
	return routeNotFound(reqID, r)
}

// isName is a path parameter: one segment, not empty.
func isName(s string) bool { return s != "" && !strings.Contains(s, "/") }

// routeNotFound is Fastify's not-found answer, which Infisical does not
// override: its message names the method and the URL as requested.
func routeNotFound(reqID string, r *http.Request) answer {
	return jsonAnswer(http.StatusNotFound, map[string]any{
		"reqId": reqID, "statusCode": 404, "error": "Not Found",
		"message": fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.RequestURI()),
	})
}

func (s *Server) popRaw() (answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.raw) == 0 {
		return answer{}, false
	}
	ra := s.raw[0]
	s.raw = s.raw[1:]
	a := answer{status: ra.Status, header: ra.Header.Clone(), body: ra.Body, proxy: true}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.header == nil {
		a.header = http.Header{}
	}
	// An explicit empty type must stay empty, so it is set even when "".
	a.header["Content-Type"] = []string{ra.ContentType}
	if ra.ContentType == "" {
		// net/http would sniff a type; "application/octet-stream" is what a
		// misconfigured proxy typically sends instead.
		a.header["Content-Type"] = []string{"application/octet-stream"}
	}
	return a, true
}

// readBody decodes a JSON body the way Fastify does: a malformed body is a
// 400 FST_ERR_CTP_INVALID_JSON_BODY.
func readBody(r *http.Request, reqID string, v any) *answer {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		a := jsonAnswer(http.StatusBadRequest, map[string]any{
			"reqId": reqID, "statusCode": 400, "code": "FST_ERR_CTP_INVALID_JSON_BODY",
			"error": "Bad Request", "message": "Body is not valid JSON but content-type is set to 'application/json'",
		})
		return &a
	}
	return nil
}

func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return answer{status: status, body: b}
}

// apiError is Infisical's error body (backend/src/server/plugins/error-handler.ts).
func apiError(reqID string, status int, name string, message any) answer {
	return jsonAnswer(status, map[string]any{
		"reqId": reqID, "statusCode": status, "message": message, "error": name,
	})
}

// validation is a zod 422 for a missing required field.
func validation(reqID string, field string) answer {
	return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
		"code": "invalid_type", "expected": "string", "received": "undefined",
		"path": []string{field}, "message": "Required",
	}})
}

func failure(reqID string, status int) answer {
	switch {
	case status == http.StatusTooManyRequests:
		return rateLimited(reqID, 1)
	case status >= 500:
		text := http.StatusText(status)
		body := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", status, text, status, text)
		return answer{status: status, header: http.Header{"Content-Type": {"text/html"}}, body: []byte(body), proxy: true}
	}
	name := strings.ReplaceAll(http.StatusText(status), " ", "")
	switch status {
	case http.StatusUnauthorized:
		name = "UnauthorizedError"
	case http.StatusForbidden:
		name = "PermissionDenied"
	}
	return apiError(reqID, status, name, "Injected failure")
}
