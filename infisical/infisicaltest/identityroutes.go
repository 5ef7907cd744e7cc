package infisicaltest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The routes that provision identities, as Infisical's identity-router,
// identity-universal-auth-router, identity-org-router (v2) and
// identity-project-membership-router serve them to an identity token,
// with their answers and their errors in the order the services check
// them.

// identityRoute serves the organisation, identity, universal-auth and
// membership routes; ok is false for any other path.
func (s *Server) identityRoute(r *http.Request, reqID string, auth func(func(*http.Request, string, *principal) answer) answer) (answer, bool) {
	p, m := r.URL.Path, r.Method
	get, post, patch := m == http.MethodGet, m == http.MethodPost, m == http.MethodPatch
	const ua = "/api/v1/auth/universal-auth/identities/*"
	switch {
	case p == "/api/v1/identities/details" && get:
		return auth(s.identityDetails), true
	case p == "/api/v1/identities" && post:
		return auth(s.createIdentity), true
	}
	if seg, ok := match(p, "/api/v1/identities/*"); ok && get {
		return auth(func(r *http.Request, reqID string, pr *principal) answer { return s.getIdentity(reqID, pr, seg[0]) }), true
	}
	if seg, ok := match(p, "/api/v2/organizations/*/identity-memberships"); ok && get {
		return auth(func(r *http.Request, reqID string, pr *principal) answer {
			return s.listOrgIdentities(r, reqID, pr, seg[0])
		}), true
	}
	if seg, ok := match(p, ua); ok && (get || post) {
		return auth(func(r *http.Request, reqID string, pr *principal) answer {
			if get {
				return s.getUniversalAuth(reqID, pr, seg[0])
			}
			return s.attachUniversalAuth(r, reqID, pr, seg[0])
		}), true
	}
	if seg, ok := match(p, ua+"/client-secrets"); ok && (get || post) {
		return auth(func(r *http.Request, reqID string, pr *principal) answer {
			if get {
				return s.listClientSecrets(reqID, pr, seg[0])
			}
			return s.createClientSecret(r, reqID, pr, seg[0])
		}), true
	}
	if seg, ok := match(p, ua+"/client-secrets/*/revoke"); ok && post {
		return auth(func(r *http.Request, reqID string, pr *principal) answer {
			return s.revokeClientSecret(reqID, pr, seg[0], seg[1])
		}), true
	}
	if seg, ok := match(p, "/api/v1/projects/*"); ok && get {
		return auth(func(r *http.Request, reqID string, pr *principal) answer { return s.getProject(reqID, pr, seg[0]) }), true
	}
	if seg, ok := match(p, "/api/v1/projects/*/memberships/identities/*"); ok && (get || post || patch) {
		return auth(func(r *http.Request, reqID string, pr *principal) answer {
			switch {
			case get:
				return s.getMembership(reqID, pr, seg[0], seg[1])
			case post:
				return s.createMembership(r, reqID, pr, seg[0], seg[1])
			}
			return s.updateMembership(r, reqID, pr, seg[0], seg[1])
		}), true
	}
	return answer{}, false
}

// match reports whether path has the shape of pattern, where each * is
// one segment that is not empty, and returns those segments.
func match(path, pattern string) ([]string, bool) {
	ps, qs := strings.Split(path, "/"), strings.Split(pattern, "/")
	if len(ps) != len(qs) {
		return nil, false
	}
	var seg []string
	for i, q := range qs {
		switch {
		case q == "*" && ps[i] != "":
			seg = append(seg, ps[i])
		case q != ps[i]:
			return nil, false
		}
	}
	return seg, true
}

// orgAnswer is getOrgPermission's refusal of an organisation that is not
// the caller's; nil when it is.
func orgAnswer(reqID, orgID string) *answer {
	if orgID == DefaultOrganization {
		return nil
	}
	a := apiError(reqID, http.StatusForbidden, "You are not allowed to access organization resource", "You are not allowed to access this resource")
	return &a
}

// boundary is the PermissionBoundaryError of the new privilege system: an
// action the caller lacks, on identities.
func boundary(reqID, base, action string) answer {
	return jsonAnswer(http.StatusForbidden, map[string]any{
		"reqId": reqID, "statusCode": http.StatusForbidden, "error": "PermissionBoundaryError",
		"message": base + ". Actor is missing permission " + action + " on identity",
		"details": map[string]any{"missingPermissions": []map[string]string{{"action": action, "subject": subjIdentity}}},
	})
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func (mi *machineIdentity) authMethods() []string {
	out := []string{}
	if mi.ua != nil {
		out = append(out, "universal-auth")
	}
	if mi.kubernetes {
		out = append(out, "kubernetes-auth")
	}
	return out
}

func (mi *machineIdentity) lastMethodJSON() any {
	if mi.lastMethod == "" {
		return nil
	}
	return mi.lastMethod
}

func (s *Server) identityDetails(r *http.Request, reqID string, p *principal) answer {
	return jsonAnswer(http.StatusOK, map[string]any{"identityDetails": map[string]any{
		"organization": map[string]any{"id": DefaultOrganization, "name": orgName, "slug": orgSlug},
	}})
}

// getProject is GET /api/v1/projects/{id}: the project with its
// environments, for a member.
func (s *Server) getProject(reqID string, p *principal, projectID string) answer {
	if bad := s.checkProject(reqID, projectID, v4, p); bad != nil {
		return *bad
	}
	slugs := make([]string, 0, len(s.envs))
	for slug := range s.envs {
		slugs = append(slugs, slug)
	}
	rank := map[string]int{"dev": 1, "staging": 2, "prod": 3}
	sort.Slice(slugs, func(i, j int) bool {
		ri, rj := cmpRank(rank, slugs[i]), cmpRank(rank, slugs[j])
		if ri != rj {
			return ri < rj
		}
		return slugs[i] < slugs[j]
	})
	envs := []map[string]string{}
	for _, slug := range slugs {
		envs = append(envs, map[string]string{"id": s.envs[slug].id, "name": slug, "slug": slug})
	}
	return jsonAnswer(http.StatusOK, map[string]any{"project": map[string]any{
		"id": s.project, "_id": s.project, "name": projectName, "slug": projectSlug, "description": nil,
		"type": "secret-manager", "orgId": DefaultOrganization, "version": 3,
		"createdAt": ts(time.Unix(0, 0)), "updatedAt": ts(time.Unix(0, 0)), "environments": envs,
	}})
}

func cmpRank(rank map[string]int, slug string) int {
	if r, ok := rank[slug]; ok {
		return r
	}
	return math.MaxInt
}

// stringField reads an optional string of a JSON body: zod's string(),
// trimmed; def when absent; bad is a 422 when it is not a string.
func stringField(reqID string, in map[string]any, name, def string) (string, *answer) {
	v, ok := in[name]
	if !ok || v == nil {
		return def, nil
	}
	str, isStr := v.(string)
	if !isStr {
		a := typeError(reqID, name, "string", v)
		return "", &a
	}
	return strings.TrimSpace(str), nil
}

// intField reads an optional integer of a JSON body within [lo, hi]: JSON
// numbers only, as zod's number() (the string "0" is a 422).
func intField(reqID string, in map[string]any, name string, def, lo, hi int) (int, *answer) {
	v, ok := in[name]
	if !ok || v == nil {
		return def, nil
	}
	f, isNum := v.(float64)
	if !isNum {
		a := typeError(reqID, name, "number", v)
		return 0, &a
	}
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		a := apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "too_big", "path": []string{name}, "message": fmt.Sprintf("Number must be an integer between %d and %d", lo, hi),
		}})
		return 0, &a
	}
	return int(f), nil
}

// typeError is zod's invalid_type issue; "received" names the JSON type,
// never the value.
func typeError(reqID, field, want string, got any) answer {
	kind := "object"
	switch got.(type) {
	case string:
		kind = "string"
	case float64:
		kind = "number"
	case bool:
		kind = "boolean"
	case []any:
		kind = "array"
	}
	return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
		"code": "invalid_type", "expected": want, "received": kind, "path": []string{field},
		"message": fmt.Sprintf("Expected %s, received %s", want, kind),
	}})
}

// createIdentity is POST /api/v1/identities: a new identity of the
// organisation, whose name is not checked for uniqueness.
func (s *Server) createIdentity(r *http.Request, reqID string, p *principal) answer {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	if _, ok := in["name"].(string); !ok {
		return validation(reqID, "name")
	}
	if _, ok := in["organizationId"].(string); !ok {
		return validation(reqID, "organizationId")
	}
	name, _ := stringField(reqID, in, "name", "")
	orgID, _ := stringField(reqID, in, "organizationId", "")
	role, bad := stringField(reqID, in, "role", "no-access")
	if bad != nil {
		return *bad
	}
	if role == "" {
		return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "too_small", "path": []string{"role"}, "message": "String must contain at least 1 character(s)",
		}})
	}
	if bad := orgAnswer(reqID, orgID); bad != nil {
		return *bad
	}
	if !p.orgMay(actCreate) {
		return denied(reqID, actCreate, subjIdentity)
	}
	if role != "no-access" {
		if _, known := orgRoles[role]; !known {
			return apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Specified roles '%s' was not found in the organization with ID '%s'", role, orgID))
		}
		if !p.orgMay(actGrant) {
			return boundary(reqID, "Failed to create identity", actGrant)
		}
	}
	mi := s.newIdentity(name, role)
	return jsonAnswer(http.StatusOK, map[string]any{"identity": map[string]any{
		"id": mi.id, "name": mi.name, "authMethod": nil, "createdAt": ts(mi.created), "updatedAt": ts(mi.created),
		"hasDeleteProtection": false, "orgId": DefaultOrganization, "projectId": nil,
		"authMethods": []string{}, "metadata": []any{},
	}})
}

// orgMembershipJSON is an identity as the organisation's identity routes
// show it: its organisation membership, with the identity inside.
func (mi *machineIdentity) orgMembershipJSON() map[string]any {
	return map[string]any{
		"id": mi.orgMembershipID, "identityId": mi.id, "role": mi.orgRole, "roleId": nil, "orgId": DefaultOrganization,
		"createdAt": ts(mi.created), "updatedAt": ts(mi.created),
		"lastLoginAuthMethod": mi.lastMethodJSON(), "lastLoginTime": nullTime(mi.lastLogin),
		"identity": map[string]any{"id": mi.id, "name": mi.name, "orgId": DefaultOrganization, "hasDeleteProtection": false, "authMethods": mi.authMethods()},
	}
}

func (s *Server) getIdentity(reqID string, p *principal, id string) answer {
	mi := s.identityByID(id)
	if mi == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound", "Failed to find identity with id "+id)
	}
	if !p.orgMay(actRead) {
		return denied(reqID, actRead, subjIdentity)
	}
	body := mi.orgMembershipJSON()
	body["metadata"] = []any{}
	inner := body["identity"].(map[string]any)
	inner["activeLockoutAuthMethods"] = []string{}
	if mi.ua != nil && s.now().Before(mi.ua.lockedUntil) {
		inner["activeLockoutAuthMethods"] = []string{"universal-auth"}
	}
	return jsonAnswer(http.StatusOK, map[string]any{"identity": body})
}

// queryInt reads a query number as z.coerce.number() does, within [lo, hi].
func queryInt(reqID, raw, name string, def, lo, hi int) (int, *answer) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		a := apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "invalid_type", "path": []string{name}, "message": fmt.Sprintf("Expected a number between %d and %d", lo, hi),
		}})
		return 0, &a
	}
	return n, nil
}

// listOrgIdentities is GET /api/v2/organizations/{org}/identity-memberships:
// a page of the organisation's identities, sorted by name, filtered by a
// case-insensitive substring of the name (ILIKE %search%).
func (s *Server) listOrgIdentities(r *http.Request, reqID string, p *principal, orgID string) answer {
	q := r.URL.Query()
	offset, bad := queryInt(reqID, q.Get("offset"), "offset", 0, 0, math.MaxInt32)
	if bad != nil {
		return *bad
	}
	limit, bad := queryInt(reqID, q.Get("limit"), "limit", 100, 1, 20000)
	if bad != nil {
		return *bad
	}
	desc := q.Get("orderDirection") == "desc"
	if bad := orgAnswer(reqID, orgID); bad != nil {
		return *bad
	}
	if !p.orgMay(actRead) {
		return denied(reqID, actRead, subjIdentity)
	}
	search := strings.ToLower(q.Get("search"))
	var found []*machineIdentity
	for _, mi := range s.identities {
		if strings.Contains(strings.ToLower(mi.name), search) {
			found = append(found, mi)
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if desc {
			return found[i].name > found[j].name
		}
		return found[i].name < found[j].name
	})
	page := []map[string]any{}
	for i := offset; i < len(found) && len(page) < limit; i++ {
		page = append(page, found[i].orgMembershipJSON())
	}
	return jsonAnswer(http.StatusOK, map[string]any{"identityMemberships": page, "totalCount": len(found)})
}

// orgIdentity resolves the identity of a universal-auth route within the
// caller's organisation.
func (s *Server) orgIdentity(reqID, id string) (*machineIdentity, *answer) {
	if mi := s.identityByID(id); mi != nil {
		return mi, nil
	}
	a := apiError(reqID, http.StatusNotFound, "NotFound", "Failed to find identity with ID "+id)
	return nil, &a
}

func ipList(ips []string) []map[string]any {
	out := []map[string]any{}
	for _, ip := range ips {
		kind := "ipv4"
		if strings.Contains(ip, ":") {
			kind = "ipv6"
		}
		addr, prefix, _ := strings.Cut(ip, "/")
		n, _ := strconv.Atoi(prefix)
		out = append(out, map[string]any{"ipAddress": addr, "prefix": n, "type": kind})
	}
	return out
}

func (ua *uaConfig) json() map[string]any {
	return map[string]any{
		"id": ua.id, "clientId": ua.clientID, "identityId": ua.ident.id,
		"accessTokenTTL": int(ua.ttl / time.Second), "accessTokenMaxTTL": int(ua.maxTTL / time.Second),
		"accessTokenNumUsesLimit": ua.numUsesLimit, "accessTokenPeriod": ua.period,
		"clientSecretTrustedIps": ipList(ua.clientIPs), "accessTokenTrustedIps": ipList(ua.accessTokenIPs),
		"createdAt": ts(ua.created), "updatedAt": ts(ua.created),
		"lockoutEnabled": ua.lockout.enabled, "lockoutThreshold": ua.lockout.threshold,
		"lockoutDurationSeconds": ua.lockout.durationSecs, "lockoutCounterResetSeconds": ua.lockout.resetSecs,
	}
}

func (s *Server) getUniversalAuth(reqID string, p *principal, id string) answer {
	mi, bad := s.orgIdentity(reqID, id)
	if bad != nil {
		return *bad
	}
	if !p.orgMay(actRead) {
		return denied(reqID, actRead, subjIdentity)
	}
	if mi.ua == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound", "Failed to find universal auth for identity with ID "+id)
	}
	return jsonAnswer(http.StatusOK, map[string]any{"identityUniversalAuth": mi.ua.json()})
}

// maxSeconds is the zod bound of every TTL: ten years.
const maxSeconds = 315360000

// attachUniversalAuth is POST .../universal-auth/identities/{id}: attaching
// twice is a 400, not a no-op.
func (s *Server) attachUniversalAuth(r *http.Request, reqID string, p *principal, id string) answer {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	var vals [8]int
	fields := []struct {
		name        string
		def, lo, hi int
	}{
		{"accessTokenTTL", 2592000, 0, maxSeconds}, {"accessTokenMaxTTL", 2592000, 0, maxSeconds},
		{"accessTokenNumUsesLimit", 0, 0, math.MaxInt32}, {"accessTokenPeriod", 0, 0, math.MaxInt32},
		{"lockoutThreshold", 3, 1, 30}, {"lockoutDurationSeconds", 300, 30, 86400},
		{"lockoutCounterResetSeconds", 30, 5, 3600},
	}
	for i, f := range fields {
		v, bad := intField(reqID, in, f.name, f.def, f.lo, f.hi)
		if bad != nil {
			return *bad
		}
		vals[i] = v
	}
	if vals[0] > vals[1] {
		return apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "custom", "path": []string{"accessTokenTTL"}, "message": "Access Token TTL cannot be greater than Access Token Max TTL.",
		}})
	}
	lockout := true
	if v, ok := in["lockoutEnabled"].(bool); ok {
		lockout = v
	}
	mi, bad := s.orgIdentity(reqID, id)
	if bad != nil {
		return *bad
	}
	if !p.orgMay(actCreate) {
		return denied(reqID, actCreate, subjIdentity)
	}
	if mi.ua != nil {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", "Failed to add universal auth to already configured identity")
	}
	ua := s.attach(&principal{ident: mi}, uuid())
	ua.ownTTL = true
	ua.ttl, ua.maxTTL = time.Duration(vals[0])*time.Second, time.Duration(vals[1])*time.Second
	ua.numUsesLimit, ua.period = vals[2], vals[3]
	ua.lockout = lockoutSettings{enabled: lockout, threshold: vals[4], durationSecs: vals[5], resetSecs: vals[6]}
	return jsonAnswer(http.StatusOK, map[string]any{"identityUniversalAuth": ua.json()})
}

// uuid is a random version-4 UUID, the shape of a universal-auth client ID.
func uuid() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (ua *uaConfig) secretJSON(cs *clientSecret) map[string]any {
	prefix := cs.value
	if len(prefix) > 4 {
		prefix = prefix[:4]
	}
	return map[string]any{
		"id": cs.id, "createdAt": ts(cs.created), "updatedAt": ts(cs.updated), "description": cs.description,
		"clientSecretPrefix": prefix, "clientSecretNumUses": cs.uses, "clientSecretNumUsesLimit": cs.limit,
		"clientSecretTTL": int(cs.ttl / time.Second), "identityUAId": ua.id, "isClientSecretRevoked": cs.revoked,
	}
}

// secretsScope checks what every client-secret route checks first: the
// identity, its universal auth, the caller's permission, then the
// privilege boundary (the token actions only an organisation admin has).
func (s *Server) secretsScope(reqID string, p *principal, id, action, tokenAction, base string) (*uaConfig, *answer) {
	mi, bad := s.orgIdentity(reqID, id)
	if bad != nil {
		return nil, bad
	}
	if mi.ua == nil {
		a := apiError(reqID, http.StatusBadRequest, "BadRequest", "The identity does not have universal auth")
		return nil, &a
	}
	if !p.orgMay(action) {
		a := denied(reqID, action, subjIdentity)
		return nil, &a
	}
	if !p.orgMay(tokenAction) {
		a := boundary(reqID, base, tokenAction)
		return nil, &a
	}
	return mi.ua, nil
}

// createClientSecret is POST .../client-secrets: the only answer that
// carries the secret itself.
func (s *Server) createClientSecret(r *http.Request, reqID string, p *principal, id string) answer {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return *a
	}
	desc, bad := stringField(reqID, in, "description", "")
	if bad != nil {
		return *bad
	}
	limit, bad := intField(reqID, in, "numUsesLimit", 0, 0, math.MaxInt32)
	if bad != nil {
		return *bad
	}
	ttl, bad := intField(reqID, in, "ttl", 0, 0, maxSeconds)
	if bad != nil {
		return *bad
	}
	ua, bad := s.secretsScope(reqID, p, id, actCreate, actCreateToken, "Failed to create client secret for identity.")
	if bad != nil {
		return *bad
	}
	cs := s.newClientSecret(ua, desc, time.Duration(ttl)*time.Second, limit)
	return jsonAnswer(http.StatusOK, map[string]any{"clientSecret": cs.value, "clientSecretData": ua.secretJSON(cs)})
}

// listClientSecrets lists the secrets not revoked; an expired or used-up
// one stays until a login with it revokes it.
func (s *Server) listClientSecrets(reqID string, p *principal, id string) answer {
	ua, bad := s.secretsScope(reqID, p, id, actRead, actGetToken, "Failed to get identity client secret with more privileged role")
	if bad != nil {
		return *bad
	}
	out := []map[string]any{}
	for _, cs := range ua.secrets {
		if !cs.revoked {
			out = append(out, ua.secretJSON(cs))
		}
	}
	return jsonAnswer(http.StatusOK, map[string]any{"clientSecretData": out})
}

// revokeClientSecret only sets the flag: revoking twice succeeds twice,
// and tokens issued with the secret stay valid.
func (s *Server) revokeClientSecret(reqID string, p *principal, id, secretID string) answer {
	ua, bad := s.secretsScope(reqID, p, id, actDelete, actDeleteToken, "Failed to revoke identity client secret with more privileged role")
	if bad != nil {
		return *bad
	}
	for _, cs := range ua.secrets {
		if cs.id == secretID {
			cs.revoked, cs.updated = true, s.now().UTC()
			return jsonAnswer(http.StatusOK, map[string]any{"clientSecretData": ua.secretJSON(cs)})
		}
	}
	return apiError(reqID, http.StatusNotFound, "NotFound", "Failed to find identity with ID "+id)
}

func (s *Server) membershipJSON(mi *machineIdentity) map[string]any {
	roles := []map[string]any{}
	for _, r := range mi.roles {
		entry := map[string]any{
			"id": r.id, "role": r.slug, "customRoleId": nil, "customRoleName": nil, "customRoleSlug": nil,
			"isTemporary": r.temporary, "temporaryMode": nil, "temporaryRange": nil,
			"temporaryAccessStartTime": nil, "temporaryAccessEndTime": nil,
			"createdAt": ts(r.created), "updatedAt": ts(r.created),
		}
		if r.temporary {
			entry["temporaryMode"], entry["temporaryRange"], entry["temporaryAccessStartTime"] = r.mode, r.rangeText, r.start
		}
		roles = append(roles, entry)
	}
	return map[string]any{
		"id": mi.membershipID, "identityId": mi.id, "createdAt": ts(mi.memberSince), "updatedAt": ts(mi.memberSince),
		"roles": roles, "lastLoginAuthMethod": mi.lastMethodJSON(), "lastLoginTime": nullTime(mi.lastLogin),
		"identity": map[string]any{"id": mi.id, "name": mi.name, "orgId": DefaultOrganization, "projectId": nil, "authMethods": mi.authMethods()},
	}
}

func (s *Server) getMembership(reqID string, p *principal, projectID, id string) answer {
	if bad := s.checkProject(reqID, projectID, v4, p); bad != nil {
		return *bad
	}
	if !p.projectMay(subjIdentity, actRead) {
		return denied(reqID, actRead, subjIdentity)
	}
	mi := s.identityByID(id)
	if mi == nil || mi.roles == nil {
		return apiError(reqID, http.StatusNotFound, "NotFound", "Identity membership not found")
	}
	return jsonAnswer(http.StatusOK, map[string]any{"identityMembership": s.membershipJSON(mi)})
}

// membershipRoles reads roles (or the deprecated role, which zod defaults
// to "no-access", so that an empty body makes a no-access membership) and
// checks the temporary ones.
func (s *Server) membershipRoles(reqID string, in map[string]any, needRoles bool) ([]projectRole, *answer) {
	raw, hasRoles := in["roles"]
	if !hasRoles && needRoles {
		a := validation(reqID, "roles")
		return nil, &a
	}
	if !hasRoles {
		role, bad := stringField(reqID, in, "role", "no-access")
		if bad != nil {
			return nil, bad
		}
		return []projectRole{{slug: role}}, nil
	}
	list, ok := raw.([]any)
	if !ok {
		a := typeError(reqID, "roles", "array", raw)
		return nil, &a
	}
	if len(list) == 0 && needRoles {
		a := apiError(reqID, http.StatusUnprocessableEntity, "ValidationFailure", []map[string]any{{
			"code": "too_small", "path": []string{"roles"}, "message": "Array must contain at least 1 element(s)",
		}})
		return nil, &a
	}
	var roles []projectRole
	permanent := false
	for _, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			a := typeError(reqID, "roles", "object", e)
			return nil, &a
		}
		slug, ok := entry["role"].(string)
		if !ok || strings.TrimSpace(slug) == "" {
			a := validation(reqID, "role")
			return nil, &a
		}
		r := projectRole{slug: strings.TrimSpace(slug)}
		r.temporary, _ = entry["isTemporary"].(bool)
		if r.temporary {
			r.mode, _ = entry["temporaryMode"].(string)
			r.rangeText, _ = entry["temporaryRange"].(string)
			r.start, _ = entry["temporaryAccessStartTime"].(string)
		} else {
			permanent = true
		}
		roles = append(roles, r)
	}
	if !permanent {
		a := apiError(reqID, http.StatusBadRequest, "BadRequest", "Identity must have at least one permanent role")
		return nil, &a
	}
	for _, r := range roles {
		if r.temporary && (r.rangeText == "" || r.start == "") {
			a := apiError(reqID, http.StatusBadRequest, "BadRequest", "Temporary role must have access start time and range")
			return nil, &a
		}
	}
	return roles, nil
}

// grantable checks the role slugs exist and that the caller may grant
// them (project grant-privileges on identities, the new privilege system).
func (s *Server) grantable(reqID string, p *principal, roles []projectRole, base string) *answer {
	for _, r := range roles {
		if _, known := projectRoles[r.slug]; !known {
			a := apiError(reqID, http.StatusNotFound, "NotFound", fmt.Sprintf("Specified roles '%s' was not found in the project with ID '%s'", r.slug, s.project))
			return &a
		}
	}
	if !p.projectMay(subjIdentity, actGrant) {
		a := boundary(reqID, base, actGrant)
		return &a
	}
	return nil
}

func (s *Server) setRoles(mi *machineIdentity, roles []projectRole) {
	now := s.now().UTC()
	for i := range roles {
		roles[i].id, roles[i].created = s.id(), now
	}
	mi.roles = roles
}

func membershipAnswer(s *Server, mi *machineIdentity) answer {
	return jsonAnswer(http.StatusOK, map[string]any{"identityMembership": map[string]any{
		"id": mi.membershipID, "projectId": s.project, "identityId": mi.id,
		"createdAt": ts(mi.memberSince), "updatedAt": ts(s.now()),
	}})
}

// membershipWrite reads a membership write's roles and checks, in the
// order the service does, the project, the caller's membership and its
// action on identities.
func (s *Server) membershipWrite(r *http.Request, reqID string, p *principal, projectID, action string) ([]projectRole, *answer) {
	var in map[string]any
	if a := readBody(r, reqID, &in); a != nil {
		return nil, a
	}
	roles, bad := s.membershipRoles(reqID, in, action == actEdit)
	if bad != nil {
		return nil, bad
	}
	if bad := s.checkProject(reqID, projectID, v4, p); bad != nil {
		return nil, bad
	}
	if !p.projectMay(subjIdentity, action) {
		a := denied(reqID, action, subjIdentity)
		return nil, &a
	}
	return roles, nil
}

// createMembership is POST .../memberships/identities/{id}: creating twice
// is a 400, not a no-op.
func (s *Server) createMembership(r *http.Request, reqID string, p *principal, projectID, id string) answer {
	roles, bad := s.membershipWrite(r, reqID, p, projectID, actCreate)
	if bad != nil {
		return *bad
	}
	mi := s.identityByID(id)
	if mi == nil {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Identity %s is missing organization membership", id))
	}
	if bad := s.grantable(reqID, p, roles, "Failed to create identity project membership"); bad != nil {
		return *bad
	}
	if mi.roles != nil {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", "Identity is already a member")
	}
	mi.membershipID, mi.memberSince = s.id(), s.now().UTC()
	s.setRoles(mi, roles)
	return membershipAnswer(s, mi)
}

// updateMembership is PATCH .../memberships/identities/{id}: the roles
// sent replace all of the identity's roles.
func (s *Server) updateMembership(r *http.Request, reqID string, p *principal, projectID, id string) answer {
	roles, bad := s.membershipWrite(r, reqID, p, projectID, actEdit)
	if bad != nil {
		return *bad
	}
	mi := s.identityByID(id)
	if mi == nil || mi.roles == nil {
		return apiError(reqID, http.StatusBadRequest, "BadRequest", "Identity doesn't have membership")
	}
	if bad := s.grantable(reqID, p, roles, "Failed to update identity project membership"); bad != nil {
		return *bad
	}
	s.setRoles(mi, roles)
	return membershipAnswer(s, mi)
}
